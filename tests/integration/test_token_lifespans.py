"""Per-client, per-grant lifespans (Ory Hydra's ``<grant>_grant_<token>_lifespan``, ``client.lifespan``):
the issuer gives each token of the authorization_code, refresh_token, client_credentials and implicit
grants the client's lifespan for that grant, else the server's setting."""

from __future__ import annotations

from typing import Any

from jose import jwt

from tests.support import basic, call, new_client
from tests.support_flows import Flow, fragment, make_client, qs, redeem, refresh


def _with_lifespans(client_id: str, **lifespans: int) -> None:
    """Set the client's lifespans as PUT /admin/clients/{id}/lifespans stores them (seconds)."""
    from hydra_lambda.clients.registry import forget_cached, get_client
    from hydra_lambda.storage import clients as store

    client = get_client(client_id)
    assert client is not None
    before = client.updated_at
    client.lifespans = dict(lifespans)
    store.replace(client, before)
    forget_cached(client_id)


def _row(token: str, kind: str = "access") -> Any:
    from hydra_lambda.storage import token_rows
    from hydra_lambda.tokens import lookup

    found = lookup.identify(token, (kind,))
    assert found is not None
    return token_rows.get(found[1], kind)


def _life(id_token: str) -> int:
    claims = jwt.get_unverified_claims(id_token)
    return claims["exp"] - claims["iat"]


def test_code_and_refresh_grants_use_the_clients_lifespans_per_grant_and_token() -> None:
    client_id, secret = make_client()
    _with_lifespans(client_id, authorization_code_grant_access_token_lifespan=120,
                    authorization_code_grant_id_token_lifespan=300,
                    authorization_code_grant_refresh_token_lifespan=900,
                    refresh_token_grant_access_token_lifespan=60, refresh_token_grant_id_token_lifespan=90,
                    refresh_token_grant_refresh_token_lifespan=1800)
    flow = Flow(client_id)
    flow.start()
    assert flow.accept(scopes=["openid", "offline"]).status == 204
    first = redeem(client_id, secret, qs(flow.back().headers["location"])["code"]).json
    assert first["expires_in"] == 120 and _life(first["id_token"]) == 300
    access = _row(first["access_token"])
    assert access.expires_at - access.issued_at == 120
    rotated = _row(first["refresh_token"], "refresh")
    assert rotated.expires_at - rotated.issued_at == 900
    second = refresh(client_id, secret, first["refresh_token"]).json
    assert second["expires_in"] == 60 and _life(second["id_token"]) == 90
    new_refresh = _row(second["refresh_token"], "refresh")
    assert new_refresh.expires_at - new_refresh.issued_at == 1800


def test_a_client_without_lifespans_gets_the_servers() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start()
    assert flow.accept(scopes=["openid", "offline"]).status == 204
    tokens = redeem(client_id, secret, qs(flow.back().headers["location"])["code"]).json
    assert tokens["expires_in"] == 3600 and _life(tokens["id_token"]) == 3600  # ACCESS_/ID_TOKEN_LIFESPAN
    row = _row(tokens["refresh_token"], "refresh")
    assert row.expires_at - row.issued_at == 720 * 3600  # REFRESH_TOKEN_LIFESPAN


def test_client_credentials_lifespan_reaches_the_jwt_exp_too() -> None:
    client_id, secret = new_client("cc", scope="read", access_token_strategy="jwt")
    _with_lifespans(client_id, client_credentials_grant_access_token_lifespan=45,
                    authorization_code_grant_access_token_lifespan=999)  # another grant's: not used
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": "read"})
    assert result.status == 200 and result.json["expires_in"] == 45
    claims = jwt.get_unverified_claims(result.json["access_token"])
    assert claims["exp"] - claims["iat"] == 45


def test_implicit_tokens_use_the_implicit_lifespans() -> None:
    client_id, _ = make_client(response_types=["token id_token"], grant_types=["implicit"])
    _with_lifespans(client_id, implicit_grant_access_token_lifespan=75, implicit_grant_id_token_lifespan=150)
    flow = Flow(client_id)
    assert flow.start(response_type="token id_token", scope="openid").status == 302
    assert flow.accept(scopes=["openid"]).status == 204
    got = fragment(flow.back().headers["location"])
    assert got["expires_in"] == "75" and _life(got["id_token"]) == 150
    row = _row(got["access_token"])
    assert row.expires_at - row.issued_at == 75
