"""Clients function: OAuth 2.0 client management (``/clients``, and the current Hydra API's
``/admin/clients`` over the same store), guarded by the warden, the current API's admin token routes
(``/admin/oauth2/introspect``, ``/admin/oauth2/tokens``), and dynamic client registration
(``/oauth2/register[/{id}]``), guarded by its own tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import admin_clients, admin_tokens, clients, register
from hydra_lambda.errors import InvalidClientMetadata
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_array, parse_json_object, parse_urlencoded, require_form
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


# ---------------------------------------------------------------------------------------------
# The current Hydra API (errors in Hydra's errorOAuth2 shape: http/app.py)

ADMIN_CLIENTS = admin_clients.PATH


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _admin_location(client_id: str) -> str:
    return f"{ADMIN_CLIENTS}/" + quote(client_id, safe="")


@app.post(ADMIN_CLIENTS)
def create_admin_client():
    client = admin_clients.create(_caller(), parse_json_object(app.current_event.decoded_body))
    return json_response(201, client, headers={"Location": _admin_location(client["client_id"])}, no_store=True)


@app.get(ADMIN_CLIENTS)
def list_admin_clients():
    items, headers = admin_clients.page(_caller(), _query())
    return json_response(200, items, headers=headers)


@app.get(ADMIN_CLIENTS + "/<client_id>")
def get_admin_client(client_id: str):
    return json_response(200, admin_clients.get(_caller(), client_id))


@app.put(ADMIN_CLIENTS + "/<client_id>")
def set_admin_client(client_id: str):
    client = admin_clients.update(_caller(), client_id, parse_json_object(app.current_event.decoded_body))
    return json_response(200, client, no_store="client_secret" in client)


@app.patch(ADMIN_CLIENTS + "/<client_id>")
def patch_admin_client(client_id: str):
    client = admin_clients.patch(_caller(), client_id, parse_json_array(app.current_event.decoded_body))
    return json_response(200, client, no_store="client_secret" in client)


@app.delete(ADMIN_CLIENTS + "/<client_id>")
def delete_admin_client(client_id: str):
    admin_clients.delete(_caller(), client_id)
    return empty(204)


@app.put(ADMIN_CLIENTS + "/<client_id>/lifespans")
def set_admin_client_lifespans(client_id: str):
    body = parse_json_object(app.current_event.decoded_body)
    return json_response(200, admin_clients.set_lifespans(_caller(), client_id, body))


@app.post("/admin/oauth2/introspect")
def admin_introspect():
    event = app.current_event
    require_form(event.headers.get("content-type"), event.decoded_body)
    return json_response(200, admin_tokens.introspect(_caller(), parse_urlencoded(event.decoded_body)), no_store=True)


@app.delete("/admin/oauth2/tokens")
def delete_admin_tokens():
    admin_tokens.delete(_caller(), _query())
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
