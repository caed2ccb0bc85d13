"""Discovery function: well-known documents, the JWKS, health (classic ``/health/status``, Hydra's
``/health/alive`` and ``/health/ready``), ``/version``, and the JSON 404 for unknown routes.
It answers the public internet, so it holds no key-management rights: the classic ``/keys`` API
(public keys and rotation) is the admin function's."""

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import health as health_routes
from hydra_lambda.endpoints import well_known
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials
from hydra_lambda.http.responses import json_response

app = HydraResolver()


@app.get("/health/status")
def health():
    return json_response(200, {"status": "ok"})


@app.get("/health/alive")
def alive():
    return json_response(*health_routes.alive(), no_store=True)


@app.get("/health/ready")
def ready():
    return json_response(*health_routes.ready(), no_store=True)


@app.get("/version")
def version():
    return json_response(*health_routes.version())


@app.get("/.well-known/openid-configuration")
@app.get("/.well-known/oauth-authorization-server")
def provider_metadata():
    return json_response(200, well_known.metadata(), headers=well_known.metadata_headers())


@app.get("/.well-known/jwks.json")
def jwks():
    key_set, complete = well_known.jwks(_caller())
    return json_response(200, key_set, headers=well_known.jwks_headers(complete))


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


lambda_handler = lambda_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
