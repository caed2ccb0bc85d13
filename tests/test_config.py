from __future__ import annotations

import pytest
from hydra_lambda.config import ConfigError, Settings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("10m", 600), ("1h30m", 5400), ("90s", 90), ("720h", 2592000), ("15", 15), ("1500ms", 1)],
)
def test_durations_use_go_syntax(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1d", "10 m", "-5m", "1h-", "abc"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_defaults_match_the_classic_server() -> None:
    settings = Settings.from_env({})
    assert settings.access_token_lifespan == 3600
    assert settings.id_token_lifespan == 3600
    assert settings.auth_code_lifespan == 600
    assert settings.challenge_token_lifespan == 600
    assert settings.refresh_token_lifespan == 720 * 3600


def test_a_bad_lifespan_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_LIFESPAN"):
        Settings.from_env({"ACCESS_TOKEN_LIFESPAN": "forever"})


def test_issuer_never_ends_in_a_slash_and_urls_have_no_double_slash() -> None:
    settings = Settings.from_env({"ISSUER": "https://auth.example.com/"})
    assert settings.issuer == "https://auth.example.com"
    assert settings.url("/oauth2/auth") == "https://auth.example.com/oauth2/auth"


def test_lists_and_prefix() -> None:
    settings = Settings.from_env({"SYSTEM_SECRET": "a" * 16 + ", " + "b" * 16, "RESOURCE_NAME_PREFIX": "rn:x:"})
    assert settings.system_secret == ("a" * 16, "b" * 16)
    assert settings.resource_name_prefix == "rn:x"


def test_unknown_signing_mode_is_an_error() -> None:
    with pytest.raises(ConfigError, match="SIGNING_MODE"):
        Settings.from_env({"SIGNING_MODE": "local"})


def test_empty_issuer_is_refused_never_learnt_from_a_request() -> None:
    from hydra_lambda import config

    with pytest.raises(config.ConfigError, match="ISSUER"):
        Settings.from_env({"ISSUER": "  "})
    assert not hasattr(config, "adopt_issuer")
