"""Dynamic client registration without an engine (clients/registration.py, endpoints/register.py): the
settings, the initial access token's constant-time hash comparison, the policy, the fields a
registration may set, and the client information response."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hydra_lambda.clients import registration
from hydra_lambda.clients.model import Client
from hydra_lambda.config import ConfigError, Settings, reset_settings
from hydra_lambda.errors import InvalidClientMetadata, InvalidToken, NotFound

TOKEN = "initial-access-token-0123456789"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_settings()

    yield apply
    monkeypatch.undo()
    reset_settings()


def _settings(**values: str) -> Settings:
    return Settings.from_env({"ISSUER": "http://127.0.0.1:4444", **values})


def test_registration_is_off_by_default_with_the_documented_policy() -> None:
    settings = _settings()
    assert settings.registration_enabled is False
    assert settings.oidc_dynamic_client_registration_initial_access_token == ""
    assert settings.oidc_dynamic_client_registration_grant_types == ("authorization_code", "refresh_token", "implicit")
    assert settings.oidc_dynamic_client_registration_response_types == ("code", "id_token", "token")
    assert "none" not in settings.oidc_dynamic_client_registration_auth_methods
    assert "client_credentials" not in settings.oidc_dynamic_client_registration_grant_types
    assert _settings(OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED="TRUE").registration_enabled is True


@pytest.mark.parametrize(("variable", "value"), [
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED", "yes"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_GRANT_TYPES", "authorization_code,password"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_RESPONSE_TYPES", "code,code id_token"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_AUTH_METHODS", "client_secret_basic,tls_client_auth"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN", "too-short"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN", "sha256:abc"),
    ("OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN", "has a space in it, twenty chars"),
])
def test_bad_settings_fail_the_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _settings(**{variable: value})
    assert str(raised.value).startswith(variable)
    if variable.endswith("INITIAL_ACCESS_TOKEN"):
        assert value not in str(raised.value)  # a secret is never echoed


def test_the_initial_access_token_is_compared_as_a_hash(env: Callable[..., None]) -> None:
    registration.check_initial_access_token(None)  # open registration: nothing to check
    for configured in (TOKEN, "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()):
        env(OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN=configured)
        registration.check_initial_access_token(TOKEN)
        for wrong in (None, "", TOKEN[:-1], TOKEN + "x", configured if configured != TOKEN else "x"):
            with pytest.raises(InvalidToken):
                registration.check_initial_access_token(wrong)


def test_the_comparison_runs_in_constant_time(env: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    seen: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return original(a, b)

    monkeypatch.setattr(registration.hmac, "compare_digest", spy)
    env(OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN=TOKEN)
    with pytest.raises(InvalidToken):
        registration.check_initial_access_token("guess")
    assert seen == [(hashlib.sha256(b"guess").digest(), hashlib.sha256(TOKEN.encode()).digest())]


def test_off_raises_not_found_as_an_unknown_route(env: Callable[..., None]) -> None:
    with pytest.raises(NotFound) as raised:
        registration.require_enabled("/oauth2/register")
    assert raised.value.message == "No route for /oauth2/register"
    env(OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED="true")
    registration.require_enabled("/oauth2/register")


POLICY = registration.Policy(grant_types=("authorization_code", "refresh_token"), response_types=("code", "id_token"),
                             scope=("openid", "email"), auth_methods=("client_secret_basic",))


@pytest.mark.parametrize(("fields", "named"), [
    ({"grant_types": ["client_credentials"]}, "grant_types"),
    ({"response_types": ["code token"]}, "response_types"),
    ({"scope": "openid profile"}, "scope"),
    ({"scope": "open*"}, "scope"),
    ({"public": True}, "token_endpoint_auth_method"),
    ({"token_endpoint_auth_method": "client_secret_post"}, "token_endpoint_auth_method"),
])
def test_the_policy_refuses_what_it_does_not_list(fields: dict[str, Any], named: str) -> None:
    client = Client(id="c", **{"scope": "openid", **fields})
    with pytest.raises(InvalidClientMetadata) as raised:
        POLICY.check(client)
    assert raised.value.description.startswith(named)


def test_the_policy_allows_combinations_of_allowed_parts() -> None:
    POLICY.check(Client(id="c", scope="openid email", response_types=["code id_token", "id_token"],
                        grant_types=["authorization_code", "refresh_token"]))


def test_registration_fields_pick_registrable_members_and_defaults(env: Callable[..., None]) -> None:
    env(OIDC_DYNAMIC_CLIENT_REGISTRATION_SCOPE="openid,email")
    fields = registration.registration_fields({"client_name": "x", "redirect_uris": ["https://a/cb"]}, replace=False)
    assert fields == {"client_name": "x", "redirect_uris": ["https://a/cb"],
                      "token_endpoint_auth_method": "client_secret_basic", "scope": "openid email"}
    replaced = registration.registration_fields({"scope": "openid"}, replace=True)
    assert set(replaced) == set(registration.REGISTRABLE) and replaced["logo_uri"] is None
    assert replaced["scope"] == "openid"
    for name in ("id", "client_id", "owner", "public", "client_secret", "self_registered"):
        assert name not in registration.REGISTRABLE


@pytest.mark.parametrize(("body", "error"), [
    ({"userinfo_encrypted_response_alg": "RSA-OAEP"}, InvalidClientMetadata),
    ({"request_object_encryption_enc": "A128GCM"}, InvalidClientMetadata),
    ({"application_type": "service"}, InvalidClientMetadata),
])
def test_what_must_not_be_silently_dropped_is_refused(body: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        registration.check_unregistrable(body)


def test_web_and_native_clients_follow_the_admin_apis_redirect_rules() -> None:
    for application_type in ("web", "native"):
        registration.check_unregistrable({"application_type": application_type, "grant_types": ["implicit"],
                                          "redirect_uris": ["http://127.0.0.1:8080/cb", "com.example.app:/cb"]})


def test_registration_access_tokens_are_random_prefixed_and_stored_hashed() -> None:
    from hydra_lambda import passwords

    first, first_hash = registration.new_token()
    second, _ = registration.new_token()
    assert first != second and first.startswith("hl_rat_") and len(first) >= 7 + 43
    assert first not in first_hash and passwords.verify_secret(first, first_hash)
    assert not passwords.verify_secret(second, first_hash)


def test_the_response_never_carries_the_hash_and_names_fields_as_rfc_7591(env: Callable[..., None]) -> None:
    from hydra_lambda.endpoints.register import wire

    client = Client(id="abc", redirect_uris=["https://a/cb"], scope="openid", self_registered=True,
                    registration_token_hash="hs256$salt$mac", secret_hash="hs256$s$m")
    out = wire(client, "hl_rat_token", "secret")
    assert out["client_secret"] == "secret" and out["client_secret_expires_at"] == 0
    assert out["registration_client_uri"] == "http://127.0.0.1:4444/oauth2/register/abc"
    assert "hs256$" not in repr(out) and "self_registered" not in out and "id" not in out
    assert "client_secret" not in wire(client, "hl_rat_token")
