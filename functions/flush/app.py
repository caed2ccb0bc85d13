"""Flush function: ``POST /oauth2/flush`` (admin) and the EventBridge schedule run the same flush."""

from __future__ import annotations

from hydra_lambda import snapstart
from hydra_lambda.endpoints import flush
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.private_admin import private_entry
from hydra_lambda.http.responses import empty, json_response

app = HydraResolver()


@app.post("/oauth2/flush")
def flush_route():
    event = app.current_event
    outcome = flush.serve(credentials(event.headers.get("authorization")),
                          lambda: parse_json_object(event.decoded_body, required=False), app.lambda_context)
    if "return=representation" in (event.headers.get("prefer") or ""):  # RFC 7240; the CLI asks for it
        return json_response(200, outcome)
    return empty(204)


_http = lambda_entry(app)


def lambda_handler(event, context):
    if "requestContext" not in event:  # an EventBridge schedule, not API Gateway
        return flush.scheduled(context)
    return _http(event, context)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
