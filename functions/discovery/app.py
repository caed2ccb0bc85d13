"""Discovery function: well-known documents, health, and the JSON 404 for unknown routes."""

from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.responses import json_response

app = HydraResolver()


@app.get("/health/status")
def health():
    return json_response(200, {"status": "ok"})


lambda_handler = lambda_entry(app)
