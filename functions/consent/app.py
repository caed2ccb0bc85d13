"""Consent function: the consent requests the operator's consent app reads and answers
(``/oauth2/consent/requests/{id}``), guarded by the warden (scope ``hydra.consent``).

The id arrives decoded: API Gateway (and the local router) percent-decode the path once before
routing, so it is used as given; decoding it again would name another request (``a%2541``)."""

from __future__ import annotations

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import consent_requests
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.private_admin import private_entry
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


lambda_handler = lambda_entry(app)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
