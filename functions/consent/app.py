"""Consent function: the consent requests the operator's consent app reads and answers
(``/oauth2/consent/requests/{id}``, the classic flow) and the current flow's login, consent and
logout requests, consent sessions and login sessions (``/admin/oauth2/auth/...``, Ory Hydra's paths),
all guarded by the warden (scope ``hydra.consent``).

The id arrives decoded: API Gateway (and the local router) percent-decode the path once before
routing, so it is used as given; decoding it again would name another request (``a%2541``)."""

from __future__ import annotations

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import (
    consent_requests,
    consent_sessions,
    device_requests,
    flow_consent_requests,
    login_requests,
    login_sessions,
    logout_requests,
)
from hydra_lambda.errors import BadRequest
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.private_admin import private_entry
from hydra_lambda.http.responses import empty, json_response

app = HydraResolver()

LOGIN = "/admin/oauth2/auth/requests/login"
CONSENT = "/admin/oauth2/auth/requests/consent"
CONSENT_SESSIONS = "/admin/oauth2/auth/sessions/consent"
DEVICE = "/admin/oauth2/auth/requests/device"


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


@app.get("/oauth2/consent/requests/<consent_id>")
def get_consent_request(consent_id: str):
    return json_response(200, consent_requests.get(_caller(), consent_id), no_store=True)


@app.patch("/oauth2/consent/requests/<consent_id>/accept")
def accept_consent_request(consent_id: str):
    body = parse_json_object(app.current_event.decoded_body)
    consent_requests.accept(_caller(), consent_id, body)
    return empty(204)


@app.patch("/oauth2/consent/requests/<consent_id>/reject")
def reject_consent_request(consent_id: str):
    body = parse_json_object(app.current_event.decoded_body, required=False)
    consent_requests.reject(_caller(), consent_id, body)
    return empty(204)


# ---------------------------------------------------------------------------------------------
# The current flow (Ory Hydra's admin API): errors in Hydra's errorOAuth2 shape (http/app.py)


def _query() -> dict[str, str]:
    return {name: value for name, value in (app.current_event.query_string_parameters or {}).items()}


def _challenge(name: str) -> str:
    value = _query().get(name, "")
    if not value:
        raise BadRequest(f"The {name} query parameter is required.")
    return value


@app.get(LOGIN)
def get_login_request():
    return json_response(200, login_requests.get(_caller(), _challenge("login_challenge")), no_store=True)


@app.put(LOGIN + "/accept")
def accept_login_request():
    body = parse_json_object(app.current_event.decoded_body)
    return json_response(200, login_requests.accept(_caller(), _challenge("login_challenge"), body), no_store=True)


@app.put(LOGIN + "/reject")
def reject_login_request():
    body = parse_json_object(app.current_event.decoded_body, required=False)
    return json_response(200, login_requests.reject(_caller(), _challenge("login_challenge"), body), no_store=True)


@app.get(CONSENT)
def get_flow_consent_request():
    return json_response(200, flow_consent_requests.get(_caller(), _challenge("consent_challenge")), no_store=True)


@app.put(CONSENT + "/accept")
def accept_flow_consent_request():
    body = parse_json_object(app.current_event.decoded_body)
    answer = flow_consent_requests.accept(_caller(), _challenge("consent_challenge"), body)
    return json_response(200, answer, no_store=True)


@app.put(CONSENT + "/reject")
def reject_flow_consent_request():
    body = parse_json_object(app.current_event.decoded_body, required=False)
    answer = flow_consent_requests.reject(_caller(), _challenge("consent_challenge"), body)
    return json_response(200, answer, no_store=True)


@app.get(CONSENT_SESSIONS)
def list_consent_sessions():
    items, headers = consent_sessions.page(_caller(), _query())
    return json_response(200, items, headers=headers, no_store=True)


@app.delete(CONSENT_SESSIONS)
def revoke_consent_sessions():
    consent_sessions.delete(_caller(), _query())
    return empty(204)


@app.get("/admin/oauth2/auth/requests/logout")
def get_logout_request():
    return json_response(200, logout_requests.get(_caller(), _challenge("logout_challenge")), no_store=True)


@app.put("/admin/oauth2/auth/requests/logout/accept")
def accept_logout_request():
    return json_response(200, logout_requests.accept(_caller(), _challenge("logout_challenge")), no_store=True)


@app.put("/admin/oauth2/auth/requests/logout/reject")
def reject_logout_request():
    logout_requests.reject(_caller(), _challenge("logout_challenge"))
    return empty(204)


@app.delete("/admin/oauth2/auth/sessions/login")
def delete_login_sessions():
    login_sessions.delete(_caller(), _query().get("subject", ""), _query().get("sid", ""))
    return empty(204)


@app.put(DEVICE + "/accept")
def accept_user_code_request():
    body = parse_json_object(app.current_event.decoded_body)
    return json_response(200, device_requests.accept(_caller(), _challenge("device_challenge"), body), no_store=True)


lambda_handler = lambda_entry(app)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
