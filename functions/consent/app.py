"""Consent function: the consent requests the operator's consent app reads and answers
(``/oauth2/consent/requests/{id}``), and the current flow's logout requests and login sessions
(``/admin/oauth2/auth/requests/logout``, ``/admin/oauth2/auth/sessions/login``), guarded by the warden
(scope ``hydra.consent``).

The id arrives decoded: API Gateway (and the local router) percent-decode the path once before
routing, so it is used as given; decoding it again would name another request (``a%2541``)."""

from __future__ import annotations

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import consent_requests, login_sessions, logout_requests
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object, parse_urlencoded
from hydra_lambda.http.responses import empty, json_response

app = HydraResolver()


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


def _query(name: str) -> str:
    return parse_urlencoded(app.current_event.raw_query_string).get(name, "")


@app.get("/admin/oauth2/auth/requests/logout")
def get_logout_request():
    return json_response(200, logout_requests.get(_caller(), _query("logout_challenge")), no_store=True)


@app.put("/admin/oauth2/auth/requests/logout/accept")
def accept_logout_request():
    return json_response(200, logout_requests.accept(_caller(), _query("logout_challenge")), no_store=True)


@app.put("/admin/oauth2/auth/requests/logout/reject")
def reject_logout_request():
    logout_requests.reject(_caller(), _query("logout_challenge"))
    return empty(204)


@app.delete("/admin/oauth2/auth/sessions/login")
def delete_login_sessions():
    login_sessions.delete(_caller(), _query("subject"), _query("sid"))
    return empty(204)


lambda_handler = lambda_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
