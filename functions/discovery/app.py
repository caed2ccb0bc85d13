"""Discovery function: well-known documents, the JWKS and the classic ``/keys`` API (public keys
only), health, and the JSON 404 for unknown routes."""

from hydra_lambda import discovery, key_admin
from hydra_lambda.credentials import Credentials
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.responses import json_response

app = HydraResolver()


@app.get("/health/status")
def health():
    return json_response(200, {"status": "ok"})


@app.get("/.well-known/openid-configuration")
@app.get("/.well-known/oauth-authorization-server")
def provider_metadata():
    return json_response(200, discovery.metadata(), headers=discovery.metadata_headers())


@app.get("/.well-known/jwks.json")
def jwks():
    key_set, complete = discovery.public_jwks(_caller())
    return json_response(200, key_set, headers=discovery.jwks_headers(complete))


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


@app.get("/keys/<set_name>")
def get_key_set(set_name: str):
    return json_response(200, key_admin.get_set(_caller(), set_name))


@app.get("/keys/<set_name>/<kid>")
def get_key(set_name: str, kid: str):
    return json_response(200, key_admin.get_key(_caller(), set_name, kid))


@app.post("/keys/<set_name>")
def rotate_key_set(set_name: str):
    body = parse_json_object(app.current_event.decoded_body, required=False)
    return json_response(201, key_admin.rotate_set(_caller(), set_name, body))


@app.route("/keys/<set_name>", ["PUT", "DELETE"])
def change_key_set(set_name: str):
    key_admin.refuse_change(_caller(), app.current_event.request_context.http.method, set_name)


@app.route("/keys/<set_name>/<kid>", ["PUT", "DELETE"])
def change_key(set_name: str, kid: str):
    key_admin.refuse_change(_caller(), app.current_event.request_context.http.method, set_name, kid)


lambda_handler = lambda_entry(app)
