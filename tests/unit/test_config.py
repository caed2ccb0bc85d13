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


def test_an_empty_issuer_is_allowed_on_lambda_and_adopted_from_the_api_id(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda import config

    monkeypatch.setattr(config, "_current", Settings.from_env({"ISSUER": "", "AWS_LAMBDA_FUNCTION_NAME": "f"}))
    assert config.get_settings().issuer == ""
    config.adopt_api_issuer("Not-An-Id")
    assert config.get_settings().issuer == ""
    config.adopt_api_issuer("abc123")
    assert config.get_settings().issuer == "https://abc123.execute-api.us-east-1.amazonaws.com"


def test_empty_variables_mean_the_default_and_region_falls_back() -> None:
    env = {"ACCESS_TOKEN_LIFESPAN": "", "AWS_DEFAULT_REGION": "eu-west-1", "CONSENT_APP_PORT": "3001"}
    settings = Settings.from_env(env)
    assert settings.access_token_lifespan == 3600
    assert settings.aws_region == "eu-west-1"
    assert settings.consent_url == "http://127.0.0.1:3001/consent"
    assert Settings.from_env({"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "eu-west-1"}).aws_region == "eu-north-1"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_BODY_BYTES", "lots"),
        ("CLIENT_CACHE_SECONDS", "-1"),
        ("CONSENT_APP_PORT", "x"),
        ("POLICY_CACHE_SECONDS", "1d"),
    ],
)
def test_every_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: .*got '{value}'"):
        Settings.from_env({variable: value})


def test_every_option_is_declared_with_a_known_type_and_a_doc() -> None:
    from hydra_lambda.config import _PARSERS

    for option in Settings.options():
        assert str(option.type) in _PARSERS, option.name
        assert option.metadata["doc"], option.name


def _readme_configuration_rows() -> dict[str, str]:
    """Each variable of the README's configuration table with its default cell (rows listing several
    variables with as many comma-separated defaults are split)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        defaults = [part.strip() for part in cells[1].split(", ")]
        for index, name in enumerate(names):
            rows[name] = defaults[index] if len(defaults) == len(names) else cells[1]
    return rows


# Variables read outside the settings object (the AWS SDK, powertools, the local tools and CLIs).
READ_ELSEWHERE = {
    "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT", "AWS_CA_BUNDLE",
    "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_METRICS_DISABLED",
    "PORT", "HOST", "HYDRA_URL", "HYDRA_CLIENT_ID", "HYDRA_CLIENT_SECRET",
    "CONSENT_APP_CLIENT_ID", "CONSENT_APP_CLIENT_SECRET",
}  # fmt: skip


def test_the_readme_table_lists_every_option_with_its_declared_default() -> None:
    rows = _readme_configuration_rows()
    declared = {option.metadata["variables"][0]: option.metadata["default"] for option in Settings.options()}
    missing = set(declared) - set(rows)
    assert not missing, f"options missing from the README's configuration table: {sorted(missing)}"
    every_variable = {name for option in Settings.options() for name in option.metadata["variables"]}
    unknown = set(rows) - every_variable - READ_ELSEWHERE
    assert not unknown, f"README variables no code declares: {sorted(unknown)}"
    for variable, default in declared.items():
        if default:
            assert f"`{default}`" in rows[variable], f"{variable}: README says {rows[variable]!r}, code {default!r}"
