"""Clients function: OAuth 2.0 client management (``/clients``), guarded by the warden, and dynamic
client registration (``/oauth2/register[/{id}]``), guarded by its own tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import clients, register
from hydra_lambda.errors import InvalidClientMetadata
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.private_admin import private_entry
from hydra_lambda.http.responses import empty, json_response, page_response

app = HydraResolver(oauth_paths=(register.PATH,))


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


def _registrant() -> Credentials:
    event = app.current_event
    return credentials(event.headers.get("authorization"), event.request_context.http.source_ip)


def _registration_body() -> dict[str, Any]:
    return parse_json_object(app.current_event.decoded_body, error=InvalidClientMetadata)


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


@app.post("/oauth2/register")
def register_client():
    register.require_enabled()  # off: 404 before anything is read
    client = register.create(_registrant(), _registration_body())
    return json_response(201, client, headers={"Location": client["registration_client_uri"]}, no_store=True)


@app.get("/oauth2/register/<client_id>")
def read_registration(client_id: str):
    return json_response(200, register.get(_registrant(), client_id), no_store=True)


@app.put("/oauth2/register/<client_id>")
def update_registration(client_id: str):
    register.require_enabled(f"{register.PATH}/{client_id}")
    return json_response(200, register.update(_registrant(), client_id, _registration_body()), no_store=True)


@app.delete("/oauth2/register/<client_id>")
def delete_registration(client_id: str):
    register.delete(_registrant(), client_id)
    return empty(204)


lambda_handler = lambda_entry(app)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
