"""OAuth2 function: the OAuth 2.0 / OpenID Connect endpoints. The first invocation of a container
also runs the first-start bootstrap (root client and default policies)."""

from __future__ import annotations

from typing import Any

from hydra_lambda import bootstrap, snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import revoke as revoke_endpoint
from hydra_lambda.endpoints import token as token_endpoint
from hydra_lambda.endpoints import userinfo as userinfo_endpoint
from hydra_lambda.errors import HydraError
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_urlencoded, require_form
from hydra_lambda.http.private_admin import private_entry
from hydra_lambda.http.responses import empty, json_response, userinfo_response

# Imported with the function: each costs at most 2.6 ms over what every route loads (python -X
# importtime, fastest of 3), less than the branching is worth. Two stay lazy, below: /oauth2/auth's
# browser flow (about 9 ms) and introspection, the one route here that asks the warden (the policies,
# Ladon and re2): the token, revocation and userinfo containers never import them.
app = HydraResolver(oauth_paths=("/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/userinfo",
                                 "/oauth2/device/auth"))


def _caller() -> Credentials:
    event = app.current_event
    return credentials(event.headers.get("authorization"), event.request_context.http.source_ip)


def _form() -> dict[str, str]:
    event = app.current_event
    require_form(event.headers.get("content-type"), event.decoded_body)
    return parse_urlencoded(event.decoded_body)


@app.post("/oauth2/token")
def token():
    return json_response(200, token_endpoint.serve(_caller(), _form()), no_store=True)


@app.post("/oauth2/introspect")
def introspect():
    from hydra_lambda.endpoints import introspect as introspect_endpoint  # lazy: the warden (see above)

    return json_response(200, introspect_endpoint.serve(_caller(), _form()), no_store=True)


@app.post("/oauth2/revoke")
def revoke():
    revoke_endpoint.serve(_caller(), _form())
    return empty(200, headers={"Cache-Control": "no-store"})


@app.route("/oauth2/auth", method=["GET", "POST"])
def authorize():
    # Lazy: the browser flow (consent legs, consent, ID tokens) loads on its first use only, so the
    # token, introspection and revocation containers of this function never import it (cold start).
    from hydra_lambda.endpoints import auth
    from hydra_lambda.http import authorization as edge

    event = app.current_event
    method = event.request_context.http.method
    try:
        call = edge.parse(method, event.raw_query_string, event.decoded_body if method == "POST" else None,
                          event.resolved_cookies_field, event.headers.get("content-type"))
    except HydraError as exc:
        return edge.error_page(exc)
    return edge.render(auth.serve(call))


@app.post("/oauth2/device/auth")
def device_authorization():
    # Lazy, as /oauth2/auth: only device flows load it.
    from hydra_lambda.endpoints import device_auth

    return json_response(200, device_auth.serve(_caller(), _form()), no_store=True)


@app.get("/oauth2/device/verify")
def device_verify():
    from hydra_lambda.endpoints import device_verify as verify_endpoint
    from hydra_lambda.http import device as edge
    from hydra_lambda.http.authorization import error_page

    event = app.current_event
    try:
        call = edge.parse(event.raw_query_string, event.resolved_cookies_field)
    except HydraError as exc:
        return error_page(exc)
    return edge.render(verify_endpoint.serve(call))


@app.route("/oauth2/sessions/logout", method=["GET", "POST"])
def logout():
    # Lazy, as /oauth2/auth: only logouts load it.
    from hydra_lambda.endpoints import logout as logout_endpoint
    from hydra_lambda.http import logout as edge

    event = app.current_event
    method = event.request_context.http.method
    try:
        call = edge.parse(method, event.raw_query_string, event.decoded_body if method == "POST" else None,
                          event.resolved_cookies_field, event.headers.get("content-type"))
        return edge.render(logout_endpoint.serve(call))
    except HydraError as exc:
        return edge.error_page(exc)


@app.route("/userinfo", method=["GET", "POST"])
def userinfo():
    event = app.current_event
    form_token = None
    if event.request_context.http.method == "POST" and not event.headers.get("authorization"):
        form_token = _form().get("access_token")
    return userinfo_response(userinfo_endpoint.serve(_caller(), form_token))


_entry = lambda_entry(app)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bootstrap.on_cold_start()  # once per container: one read on a warm installation
    return _entry(event, context)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
