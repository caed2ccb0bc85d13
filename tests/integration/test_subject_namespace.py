"""One namespace of subjects (issue 22): a client_credentials token's subject is its client's id, a
consent-accepted token's the user's, and policies, owners and the warden see only the string. So a
subject is a client's id or a user's subject, never both: a tenant cannot take a user's rights by
naming a client after that user, before or after the user appears, and no two racing writes can both
win. A consent app cannot sign in an admin identity unless it may act as one itself, and its granted
scopes are bounded."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from hydra_lambda.http.forms import credentials

from tests.support import ROOT_CLIENT_ID, Result, admin_headers, basic, bearer, call, client_credentials_token, unique
from tests.support_admin import add_policy, remove_policy, service_client
from tests.support_flows import Flow, make_client, qs, redeem

OWN_CLIENTS = {"subjects": ["<.*>"], "resources": ["rn:hydra:clients", "rn:hydra:clients:<.*>"],
               "actions": ["create", "get", "update", "delete"],
               "conditions": {"owner": {"type": "EqualsSubjectCondition", "options": {}}}}


@pytest.fixture
def everyone_manages_own_clients() -> Any:
    """The classic multi-tenant policy: any subject manages the clients it owns."""
    policy = add_policy(**OWN_CLIENTS)
    yield
    remove_policy(policy)


def _pending(scope: str | None = None, client_scope: str | None = None) -> tuple[Flow, str | None]:
    """A client and a consent request of its, pending (``scope`` requested, the client's own by default)."""
    client_id, secret = make_client(**({"scope": client_scope or scope} if scope or client_scope else {}))
    flow = Flow(client_id)
    assert flow.start(**({"scope": scope} if scope else {})).status == 302
    return flow, secret


def _accept(flow: Flow, subject: str, headers: dict[str, str] | None = None, **body: Any) -> Result:
    return call("PATCH", f"/oauth2/consent/requests/{flow.consent_id}/accept",
                headers=headers or admin_headers("hydra.consent"),
                json_body={"subject": subject, "grantScopes": ["openid"], **body})


def _sign_in(subject: str, scope: str = "openid hydra.clients") -> str:
    """A user's access token: the code flow answered by the root consent app for ``subject``."""
    flow, secret = _pending(scope=scope)
    assert _accept(flow, subject, grantScopes=scope.split()).status == 204
    back = flow.back()
    assert back.status == 302, back.body
    result = redeem(flow.client_id, secret, qs(back.headers["location"])["code"])
    assert result.status == 200, result.body
    return result.json["access_token"]


def _tenant_client(tenant: dict[str, str], client_id: str, owner: str) -> Result:
    return call("POST", "/clients", headers=tenant, json_body={
        "id": client_id, "owner": owner, "client_secret": "tenant-secret-1", "scope": "hydra.clients hydra.warden",
        "grant_types": ["client_credentials"]})


def _assert_taken(result: Result, subject: str) -> None:
    assert result.status == 409, result.body
    error = result.json["error"]
    assert error["code"] == 409 and subject in error["message"], error


def _tenant() -> tuple[str, dict[str, str]]:
    tenant_id, tenant_secret = service_client("hydra.clients hydra.warden")
    return tenant_id, bearer(client_credentials_token("hydra.clients", tenant_id, tenant_secret))


# ---------------------------------------------------------------- the finding: subject takeover


def test_a_tenant_cannot_take_over_a_signed_in_users_clients(everyone_manages_own_clients: None) -> None:
    """The finding: the user signed in, owns a client; the tenant names a client after the user, takes
    a client_credentials token (subject: the user's) and reads and rewrites the user's client."""
    user = unique("alice")
    users_token = bearer(_sign_in(user))
    own = call("POST", "/clients", headers=users_token, json_body={"id": unique("alices-app"), "owner": user})
    assert own.status == 201, own.body
    tenant_id, tenant = _tenant()
    squat = _tenant_client(tenant, user, tenant_id)
    _assert_taken(squat, user)
    assert call("GET", f"/clients/{user}", headers=admin_headers()).status == 404  # nothing was written
    # Had it been created, this token would act as the user:
    impostor = call("POST", "/oauth2/token", headers=basic(user, "tenant-secret-1"),
                    form={"grant_type": "client_credentials", "scope": "hydra.clients"})
    assert impostor.status == 401
    assert call("GET", f"/clients/{own.json['id']}", headers=tenant).status == 403
    assert call("GET", f"/clients/{own.json['id']}", headers=users_token).status == 200


def test_an_owner_that_never_signed_in_is_a_user_too(everyone_manages_own_clients: None) -> None:
    """The operator provisions a client for a user who has not signed in yet: that owner is a user's
    subject from then on, so no tenant can name a client after it."""
    user = unique("carol")
    provisioned = call("POST", "/clients", headers=admin_headers(), json_body={"id": unique("carols"), "owner": user})
    assert provisioned.status == 201, provisioned.body
    tenant_id, tenant = _tenant()
    _assert_taken(_tenant_client(tenant, user, tenant_id), user)
    # The same through an update that hands a client to a new owner.
    later = unique("dan")
    moved = call("PUT", f"/clients/{provisioned.json['id']}", headers=admin_headers(), json_body={"owner": later})
    assert moved.status == 200, moved.body
    _assert_taken(_tenant_client(tenant, later, tenant_id), later)
    # An owner that is a client's id stays that client's (a tenant owning the clients it made).
    mine = _tenant_client(tenant, unique("tenant-app"), tenant_id)
    assert mine.status == 201, mine.body


def test_a_condition_based_grant_is_not_taken_by_naming_a_client_after_its_user() -> None:
    """Rights given through a condition (a resource server's own warden context) name no subject, so the
    old guard (policies that single an id out) never saw them."""
    photos = add_policy(subjects=["<.*>"], resources=["rn:photos:<.*>"], actions=["read"],
                        conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}})
    tenant_policy = add_policy(**OWN_CLIENTS)
    try:
        user = unique("dave")
        _sign_in(user, scope="openid")
        tenant_id, tenant = _tenant()
        squat = _tenant_client(tenant, user, tenant_id)
        _assert_taken(squat, user)
        warden = admin_headers("hydra.warden")
        asked = call("POST", "/warden/allowed", headers=warden, json_body={
            "subject": user, "resource": "rn:photos:1", "action": "read", "context": {"owner": user}})
        assert asked.status == 200 and asked.json["allowed"] is True  # the user's right, the user's alone
    finally:
        remove_policy(photos)
        remove_policy(tenant_policy)


def test_a_user_who_appears_after_a_client_of_that_name_is_refused() -> None:
    """Client first: a tenant named a client after someone who later signs in. Signing the user in under
    that subject would give the client every right the user gets later: a group the operator puts the
    user in, policies naming the user (the old guard looked at them only when the client was made)."""
    tenant_id, _ = _tenant()
    name = unique("frank")
    early = call("POST", "/clients", headers=admin_headers(), json_body={
        "id": name, "owner": tenant_id, "grant_types": ["client_credentials"], "client_secret": "early-secret"})
    assert early.status == 201, early.body
    flow, _ = _pending()
    refused = _accept(flow, name)
    _assert_taken(refused, name)
    assert flow.consent_request()["id"] == flow.consent_id  # still pending: it can be answered again
    assert _accept(flow, unique("frank-user")).status == 204


def test_a_client_named_after_a_user_who_signed_in_is_refused_to_everyone() -> None:
    """User first (no policy or group names the user yet, so the old guard saw nothing), a client of
    that name next: refused, to a tenant and to the operator alike (a subject is one kind for all)."""
    user = unique("grace")
    _sign_in(user, scope="openid")
    tenant_id, tenant = _tenant()
    policy = add_policy(**OWN_CLIENTS)
    try:
        _assert_taken(_tenant_client(tenant, user, tenant_id), user)
        _assert_taken(call("POST", "/clients", headers=admin_headers(), json_body={"id": user}), user)
    finally:
        remove_policy(policy)


def test_claims_stay_out_of_the_client_listing_and_lookups() -> None:
    user = unique("heidi")
    _sign_in(user, scope="openid")
    headers = admin_headers()
    listed: list[str] = []
    offset = 0
    for _ in range(50):  # bounded: the listing pages through every client
        page = call("GET", "/clients", headers=headers, query={"limit": "500", "offset": str(offset)})
        assert page.status == 200
        listed += [c["id"] for c in page.json]
        if len(page.json) < 500:
            break
        offset += 500
    assert listed and not [i for i in listed if "#" in i or i == user]
    from hydra_lambda.clients.registry import get_client
    from hydra_lambda.storage.clients import claim_key

    assert get_client(claim_key(user)) is None


# ---------------------------------------------------------------- racing writes


ROUNDS = 30


def test_a_client_and_a_user_racing_for_one_subject_never_both_win() -> None:
    """Client create and consent accept for the same new subject, released together from two threads
    (each a DynamoDB client of its own), round after round: at most one wins, never both."""
    from hydra_lambda.endpoints import clients
    from hydra_lambda.endpoints import consent_requests as consent

    root = credentials(admin_headers("hydra.clients hydra.consent")["Authorization"])
    flows = [_pending()[0] for _ in range(ROUNDS)]
    double, client_wins, user_wins = 0, 0, 0
    deadline = time.monotonic() + 120
    for flow in flows:
        assert time.monotonic() < deadline, "the race rounds took too long"
        subject = unique("race")
        barrier = threading.Barrier(2, timeout=10)
        won: dict[str, bool] = {}

        def create(subject: str = subject, barrier: threading.Barrier = barrier, won: dict[str, bool] = won,
                   delay: float = random.uniform(0, 0.015)) -> None:
            barrier.wait()
            time.sleep(delay)  # the accept does more reads before its write: spread the crossing points
            try:
                clients.create(root, {"id": subject, "grant_types": ["client_credentials"]})
                won["client"] = True
            except Exception:
                won["client"] = False

        def accept(subject: str = subject, barrier: threading.Barrier = barrier, won: dict[str, bool] = won,
                   flow: Flow = flow) -> None:
            barrier.wait()
            try:
                consent.accept(root, flow.consent_id, {"subject": subject, "grantScopes": ["openid"]})
                won["user"] = True
            except Exception:
                won["user"] = False

        threads = [threading.Thread(target=create), threading.Thread(target=accept)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        double += won.get("client", False) and won.get("user", False)
        client_wins += won.get("client", False) and not won.get("user", False)
        user_wins += won.get("user", False) and not won.get("client", False)
    assert double == 0, f"{double} of {ROUNDS} rounds let a client and a user share a subject"
    assert client_wins + user_wins >= ROUNDS // 2, (client_wins, user_wins)


# ---------------------------------------------------------------- consent rights


def _limited_consent_app() -> tuple[dict[str, str], str]:
    app_id, app_secret = service_client("hydra.consent")
    policy = add_policy(subjects=[app_id], resources=["rn:hydra:oauth2:consent:requests:<.*>"],
                        actions=["get", "accept", "reject"])
    return bearer(client_credentials_token("hydra.consent", app_id, app_secret)), policy


def test_a_consent_app_cannot_sign_in_the_root_client() -> None:
    """The finding: a consent app with only hydra.consent accepted subject `root`, and the token could
    read and create policies."""
    app, policy = _limited_consent_app()
    try:
        flow, secret = _pending(scope="openid hydra.policies")
        accepted = _accept(flow, ROOT_CLIENT_ID, headers=app, grantScopes=["openid", "hydra.policies"])
        if accepted.status == 204:  # the hole: show what it gave, then fail
            code = qs(flow.back().headers["location"])["code"]
            token = redeem(flow.client_id, secret, code).json["access_token"]
            listed = call("GET", "/policies", headers=bearer(token))
            pytest.fail(f"root signed in by a consent app; GET /policies with its token: {listed.status}")
        assert accepted.status == 403 and "admin rights" in accepted.json["error"]["message"], accepted.body
        assert flow.consent_request()["id"] == flow.consent_id  # nothing answered: still pending
    finally:
        remove_policy(policy)


def test_a_consent_app_cannot_sign_in_a_user_who_may_manage_policies() -> None:
    boss, member = unique("boss"), unique("ops-member")
    group = unique("admins")
    groups = admin_headers("hydra.warden.groups")
    assert call("POST", "/warden/groups", headers=groups, json_body={"id": group, "members": [member]}).status == 201
    admin_policy = add_policy(subjects=[boss, group], resources=["rn:hydra:policies", "rn:hydra:policies:<.*>"],
                              actions=["<.*>"])
    app, policy = _limited_consent_app()
    try:
        for subject in (boss, member):
            flow, _ = _pending()
            refused = _accept(flow, subject, headers=app)
            assert refused.status == 403, refused.body
            assert refused.json["error"]["code"] == 403 and "admin rights" in refused.json["error"]["message"]
            assert _accept(flow, subject).status == 204  # a consent app that may manage policies may
        flow, _ = _pending()
        assert _accept(flow, unique("plain-user"), headers=app).status == 204  # everyone else, as before
    finally:
        for each in (admin_policy, policy):
            remove_policy(each)
        call("DELETE", f"/warden/groups/{group}", headers=groups)


def test_a_user_allowed_to_update_any_client_is_an_admin_identity() -> None:
    """Updating any client means setting the root client's secret: as strong as writing policies."""
    helpdesk = unique("helpdesk")
    policy_id = add_policy(subjects=[helpdesk], resources=["rn:hydra:clients:<.*>"], actions=["update"])
    app, policy = _limited_consent_app()
    try:
        flow, _ = _pending()
        assert _accept(flow, helpdesk, headers=app).status == 403
    finally:
        remove_policy(policy_id)
        remove_policy(policy)


# ---------------------------------------------------------------- granted scopes are bounded


def test_granted_scopes_are_bounded_in_number_and_length() -> None:
    from hydra_lambda.scopes import MAX_SCOPES

    flow, _ = _pending(scope="openid", client_scope="openid *")
    too_many = _accept(flow, "alice", grantScopes=[f"s{i}" for i in range(MAX_SCOPES + 1)])
    assert too_many.status == 400 and too_many.json["error"]["code"] == 400, too_many.body
    assert "grantScopes" in too_many.json["error"]["message"]
    too_long = _accept(flow, "alice", grantScopes=[f"{i:02d}" + "x" * 250 for i in range(20)])  # 5 KB in all
    assert too_long.status == 400 and "grantScopes" in too_long.json["error"]["message"], too_long.body
    huge = _accept(flow, "alice", grantScopes=[f"s{i}" for i in range(60000)])
    assert huge.status == 400, huge.status
    assert flow.consent_request()["id"] == flow.consent_id  # unchanged, still pending
    widest = [f"{i:02d}" + "y" * 38 for i in range(48)]  # 48 scopes, 1,967 characters joined: allowed
    assert _accept(flow, "alice", grantScopes=widest).status == 204
    back = flow.back()
    assert back.status == 302 and len(back.headers["location"]) < 8192



# ---------------------------------------------------------------- what the claims cost


def test_what_the_namespace_costs_per_client_create_and_consent_accept(capsys: pytest.CaptureFixture[str]) -> None:
    """Write units as DynamoDB Local reports them (ReturnConsumedCapacity=INDEXES), printed for the
    README: a client create is a transaction of its row and a check of its claim's absence, plus an
    owner's claim when that owner is new; a consent accept reads its subject's claim, and writes it
    (with a check of the client row) the first time only."""
    from tests.integration.test_capacity import capacity

    headers = admin_headers()
    costs: dict[str, list[tuple[str, float, float]]] = {}
    with capacity() as costs["client create"]:
        assert call("POST", "/clients", headers=headers, json_body={"id": unique()}).status == 201
    with capacity() as costs["client create, new owner"]:
        assert call("POST", "/clients", headers=headers, json_body={"id": unique(), "owner": unique("o")}).status == 201
    user = unique("u")
    flows = [_pending()[0] for _ in range(2)]
    consent_headers = admin_headers("hydra.consent")
    with capacity() as costs["consent accept, first for its subject"]:
        assert _accept(flows[0], user, headers=consent_headers).status == 204
    with capacity() as costs["consent accept, subject known"]:
        assert _accept(flows[1], user, headers=consent_headers).status == 204
    with capsys.disabled():
        for name, used in costs.items():
            print(f"\n{name}: {used}")
    reads = ("GetItem", "Query", "Scan")
    writing = {name: [op for op, _, _ in used if op not in reads] for name, used in costs.items()}
    assert writing == {
        "client create": ["TransactWriteItems"],  # was one PutItem
        "client create, new owner": ["TransactWriteItems"],
        "consent accept, first for its subject": ["TransactWriteItems", "UpdateItem"],
        "consent accept, subject known": ["UpdateItem"],  # as before, after one read of the claim
    }, costs
    # DynamoDB Local's units for the transaction: 6 (4 on the table, 2 on by_listing); AWS bills every
    # item of a transaction twice per KB: 2 for the row, 2 for its by_listing entry, 2 for the check.
    units = sum(r + w for op, r, w in costs["client create"] if op == "TransactWriteItems")
    assert units == 6, costs
