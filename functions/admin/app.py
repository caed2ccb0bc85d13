"""Admin function: Ladon policies (``/policies``), the warden that resource servers ask
(``/warden/allowed``, ``/warden/token/allowed``), warden groups (``/warden/groups``), the classic
JSON Web Key API (``/keys/<set>``: public keys, one rotation step, refusals) and the current one
(``/admin/keys/<set>``: the stack's public keys, application key sets), and the JWT bearer grant's
trusted issuers (``/admin/trust/grants/jwt-bearer/issuers``), each guarded by the warden."""

from __future__ import annotations

from urllib.parse import quote

from hydra_lambda import snapstart
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import admin_keys, keys, policies, trust_issuers, warden, warden_groups
from hydra_lambda.http.app import HydraResolver, lambda_entry
from hydra_lambda.http.forms import credentials, parse_json_object
from hydra_lambda.http.private_admin import private_entry
from hydra_lambda.http.responses import empty, json_response, page_response

app = HydraResolver()


def _caller() -> Credentials:
    return credentials(app.current_event.headers.get("authorization"))


def _body() -> dict:
    return parse_json_object(app.current_event.decoded_body)


def _query(name: str) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name)


@app.get("/policies")
def list_policies():
    return page_response("/policies", policies.page(_caller(), _query("limit"), _query("offset")))


@app.post("/policies")
def create_policy():
    policy = policies.create(_caller(), _body())
    return json_response(201, policy, headers={"Location": "/policies/" + quote(policy["id"], safe="")})


@app.get("/policies/<policy_id>")
def get_policy(policy_id: str):
    return json_response(200, policies.get(_caller(), policy_id))


@app.put("/policies/<policy_id>")
def update_policy(policy_id: str):
    return json_response(200, policies.update(_caller(), policy_id, _body()))


@app.delete("/policies/<policy_id>")
def delete_policy(policy_id: str):
    policies.delete(_caller(), policy_id)
    return empty(204)


@app.post("/warden/token/allowed")
def token_allowed():
    return json_response(200, warden.decide_token(_caller(), _body()), no_store=True)


@app.post("/warden/allowed")
def subject_allowed():
    return json_response(200, warden.decide_subject(_caller(), _body()))


@app.get("/warden/groups")
def list_groups():
    return json_response(200, warden_groups.find(_caller(), _query("member")))


@app.post("/warden/groups")
def create_group():
    group = warden_groups.create(_caller(), _body())
    return json_response(201, group, headers={"Location": "/warden/groups/" + quote(group["id"], safe="")})


@app.get("/warden/groups/<group_id>")
def get_group(group_id: str):
    return json_response(200, warden_groups.get(_caller(), group_id))


@app.delete("/warden/groups/<group_id>")
def delete_group(group_id: str):
    warden_groups.delete(_caller(), group_id)
    return empty(204)


@app.post("/warden/groups/<group_id>/members")
def add_members(group_id: str):
    warden_groups.add_members(_caller(), group_id, _body())
    return empty(204)


@app.delete("/warden/groups/<group_id>/members")
def remove_members(group_id: str):
    warden_groups.remove_members(_caller(), group_id, _body())
    return empty(204)


@app.get("/keys/<set_name>")
def get_key_set(set_name: str):
    return json_response(200, keys.get_set(_caller(), set_name))


@app.get("/keys/<set_name>/<kid>")
def get_key(set_name: str, kid: str):
    return json_response(200, keys.get_key(_caller(), set_name, kid))


@app.post("/keys/<set_name>")
def rotate_key_set(set_name: str):
    body = parse_json_object(app.current_event.decoded_body, required=False)
    return json_response(201, keys.create_set(_caller(), set_name, body))


@app.route("/keys/<set_name>", ["PUT", "DELETE"])
def change_key_set(set_name: str):
    keys.refuse_change(_caller(), app.current_event.request_context.http.method, set_name)


@app.route("/keys/<set_name>/<kid>", ["PUT", "DELETE"])
def change_key(set_name: str, kid: str):
    keys.refuse_change(_caller(), app.current_event.request_context.http.method, set_name, kid)


TRUST_ISSUERS = "/admin/trust/grants/jwt-bearer/issuers"


@app.get(TRUST_ISSUERS)
def list_trusted_issuers():
    items, headers = trust_issuers.page(_caller(), app.current_event.query_string_parameters or {})
    return json_response(200, items, headers=headers)


@app.post(TRUST_ISSUERS)
def trust_issuer():
    trust = trust_issuers.create(_caller(), _body())
    return json_response(201, trust, headers={"Location": trust_issuers.location(trust)})


@app.get(TRUST_ISSUERS + "/<trust_id>")
def get_trusted_issuer(trust_id: str):
    return json_response(200, trust_issuers.get(_caller(), trust_id))


@app.delete(TRUST_ISSUERS + "/<trust_id>")
def delete_trusted_issuer(trust_id: str):
    trust_issuers.delete(_caller(), trust_id)
    return empty(204)


@app.get("/admin/keys/<set_name>")
def get_json_web_key_set(set_name: str):
    return json_response(200, admin_keys.get_set(_caller(), set_name), no_store=True)


@app.post("/admin/keys/<set_name>")
def create_json_web_key_set(set_name: str):
    return json_response(201, admin_keys.create_set(_caller(), set_name, _body()), no_store=True)


@app.put("/admin/keys/<set_name>")
def set_json_web_key_set(set_name: str):
    return json_response(200, admin_keys.replace_set(_caller(), set_name, _body()), no_store=True)


@app.delete("/admin/keys/<set_name>")
def delete_json_web_key_set(set_name: str):
    admin_keys.delete_set(_caller(), set_name)
    return empty(204)


@app.get("/admin/keys/<set_name>/<kid>")
def get_json_web_key(set_name: str, kid: str):
    return json_response(200, admin_keys.get_key(_caller(), set_name, kid), no_store=True)


@app.put("/admin/keys/<set_name>/<kid>")
def set_json_web_key(set_name: str, kid: str):
    return json_response(200, admin_keys.replace_key(_caller(), set_name, kid, _body()), no_store=True)


@app.delete("/admin/keys/<set_name>/<kid>")
def delete_json_web_key(set_name: str, kid: str):
    admin_keys.delete_key(_caller(), set_name, kid)
    return empty(204)


lambda_handler = lambda_entry(app)

# The private admin API's handler (template.yaml PrivateAdminApi; make run's admin port): admin routes
# only, served without a token. Only the private API may invoke it.
private_handler = private_entry(app)

snapstart.enable()  # SnapStart: primed before the snapshot, reseeded after every restore
