"""Clients function: OAuth 2.0 client management (``/clients``), guarded by the warden."""

from __future__ import annotations

from urllib.parse import quote

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import clients
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.responses import empty, json_response, page_response

app = HydraResolver()


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


def _location(client_id: str) -> str:
    return "/clients/" + quote(client_id, safe="")


@app.post("/clients")
def create_client():
    body = parse_json_object(app.current_event.decoded_body)
    client = clients.create(_caller(), body)
    return json_response(201, client, headers={"Location": _location(client["id"])}, no_store=True)


@app.get("/clients")
def list_clients():
    params = app.current_event.query_string_parameters or {}
    return page_response("/clients", clients.page(_caller(), params.get("limit"), params.get("offset")))


@app.get("/clients/<client_id>")
def get_client(client_id: str):
    return json_response(200, clients.get(_caller(), client_id))


@app.put("/clients/<client_id>")
def update_client(client_id: str):
    body = parse_json_object(app.current_event.decoded_body)
    client = clients.update(_caller(), client_id, body)
    return json_response(200, client, no_store="client_secret" in client)


@app.delete("/clients/<client_id>")
def delete_client(client_id: str):
    clients.delete(_caller(), client_id)
    return empty(204)


lambda_handler = lambda_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
