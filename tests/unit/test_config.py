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


LIFESPANS = ["ACCESS_TOKEN_LIFESPAN", "REFRESH_TOKEN_LIFESPAN", "ID_TOKEN_LIFESPAN", "AUTH_CODE_LIFESPAN",
             "CHALLENGE_TOKEN_LIFESPAN"]  # fmt: skip


@pytest.mark.parametrize("variable", LIFESPANS)
@pytest.mark.parametrize("value", ["0", "0s", "500ms", "-1", "87601h", "3000000h", "100000000h", "9" * 400 + "h"])
def test_a_lifespan_is_at_least_a_second_and_at_most_ten_years(variable: str, value: str) -> None:
    # 0 made tokens born inactive; 3000000h an 11-digit expiry that sorts below the flush's cutoff (a
    # live token flushed); 100000000h an expiry datetime cannot hold (every /oauth2/token a 500).
    with pytest.raises(ConfigError,
        match=f"^{variable}: (must be 1s to 87600h \\(10 years\\)|too large|not a Go duration)"
    ):
        Settings.from_env({variable: value})


@pytest.mark.parametrize("variable", LIFESPANS)
def test_the_bounds_of_a_lifespan_are_accepted(variable: str) -> None:
    field_name = variable.lower()
    assert getattr(Settings.from_env({variable: "1s"}), field_name) == 1
    assert getattr(Settings.from_env({variable: "87600h"}), field_name) == 87600 * 3600


def test_the_longest_lifespan_keeps_expiries_in_the_ten_digits_of_token_keys() -> None:
    import time

    from hydra_lambda.config import MAX_SECONDS
    from hydra_lambda.tokens import opaque as opaque_tokens

    latest = int(time.time()) + MAX_SECONDS
    key = opaque_tokens.storage_key(latest, "sig")
    assert key.startswith(str(latest)) and len(str(latest)) == 10
    assert key > opaque_tokens.expiry_prefix(int(time.time()))  # the flush keeps it


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REFRESH_TOKEN_GRACE_PERIOD": "301s"}, "REFRESH_TOKEN_GRACE_PERIOD"),
        ({"REFRESH_TOKEN_GRACE_PERIOD": "1h"}, "REFRESH_TOKEN_GRACE_PERIOD"),
        ({"CLIENT_CACHE_SECONDS": "87601h"}, "CLIENT_CACHE_SECONDS"),
        ({"SYSTEM_SECRET_CACHE_SECONDS": "100000000h"}, "SYSTEM_SECRET_CACHE_SECONDS"),
        ({"MAX_BODY_BYTES": "-1"}, "MAX_BODY_BYTES"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES"),
        ({"CONSENT_APP_PORT": "0"}, "CONSENT_APP_PORT"),
        ({"CONSENT_APP_PORT": "65536"}, "CONSENT_APP_PORT"),
        ({"RETIRED_KEY_DELETION_DAYS": "6"}, "RETIRED_KEY_DELETION_DAYS"),
        ({"RETIRED_KEY_DELETION_DAYS": "31"}, "RETIRED_KEY_DELETION_DAYS"),
        ({"ISSUER": "127.0.0.1:4444"}, "ISSUER"),
        ({"ISSUER": "ftp://auth.example.com"}, "ISSUER"),
        ({"ISSUER": "https://auth.example.com/?x=1"}, "ISSUER"),
        ({"ISSUER": "https://"}, "ISSUER"),
        ({"CONSENT_URL": "/consent"}, "CONSENT_URL"),
        ({"CONSENT_URL": "consent.example.com/consent"}, "CONSENT_URL"),
        ({"CONSENT_URL": "https://consent.example.com/login#x"}, "CONSENT_URL"),
        ({"OIDC_DISCOVERY_USERINFO_ENDPOINT": "userinfo"}, "OIDC_DISCOVERY_USERINFO_ENDPOINT"),
        ({"CORS_ALLOWED_ORIGINS": "https://spa.example.com/"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "spa.example.com"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "https://SPA.example.com"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example.com,https://b.example.com/app"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example.com:99999"}, "CORS_ALLOWED_ORIGINS"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: (.* )?must "):
        Settings.from_env(env)


def test_values_in_range_are_accepted() -> None:
    settings = Settings.from_env({
        "REFRESH_TOKEN_GRACE_PERIOD": "5m", "MAX_BODY_BYTES": "1", "CONSENT_APP_PORT": "65535",
        "RETIRED_KEY_DELETION_DAYS": "7", "ISSUER": "https://auth.example.com/base",
        "CONSENT_URL": "http://[::1]:3000/login?tenant=acme", "CLIENT_CACHE_SECONDS": "0",
        "CORS_ALLOWED_ORIGINS": "https://a.example.com, http://127.0.0.1:8080,http://[::1]:3000,*",
    })  # fmt: skip
    assert settings.refresh_token_grace_period == 300
    assert settings.max_body_bytes == 1
    assert settings.consent_app_port == 65535
    assert settings.retired_key_deletion_days == 7
    assert settings.issuer == "https://auth.example.com/base"
    assert settings.cors_allowed_origins == ("https://a.example.com", "http://127.0.0.1:8080", "http://[::1]:3000", "*")


def test_the_deletion_window_is_the_one_rotation_and_the_template_use() -> None:
    import re
    from pathlib import Path

    from hydra_lambda.keys.rotation import DELETION_WINDOW_DAYS

    option = next(o for o in Settings.options() if o.metadata["variables"][0] == "RETIRED_KEY_DELETION_DAYS")
    assert option.metadata["bounds"] == DELETION_WINDOW_DAYS
    text = (Path(__file__).parents[2] / "template.yaml").read_text()
    block = text.split("\n  RetiredKeyDeletionDays:\n", 1)[1].split("\n  ", 1)[1]
    block = block[: re.search(r"\n  [A-Za-z]", block).start()]
    pattern = re.search(r'AllowedPattern: "(.*)"', block).group(1).replace("\\\\", "\\")
    days = [d for d in range(100) if re.fullmatch(pattern, str(d))]
    assert (days[0], days[-1]) == DELETION_WINDOW_DAYS and len(days) == days[-1] - days[0] + 1


def test_the_readme_table_states_every_declared_range() -> None:
    from pathlib import Path

    from hydra_lambda.config import range_text

    lines = (Path(__file__).parents[2] / "README.md").read_text().split("\n## Configuration\n", 1)[1].splitlines()
    for option in Settings.options():
        shown = range_text(option)
        if shown:
            variable = option.metadata["variables"][0]
            row = next(line for line in lines if line.startswith(f"| `{variable}`"))
            assert shown in row, f"{variable}: README row does not state {shown!r}"


@pytest.mark.parametrize("value", ["0", "65536", "-1", "http"])
def test_the_local_servers_port_is_a_port_number(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hydra_lambda_local.serve import serve_port

    monkeypatch.setenv("PORT", value)
    assert serve_port(None) is None
    assert "PORT must be a number from 1 to 65535" in capsys.readouterr().err
    monkeypatch.setenv("PORT", "65535")
    assert serve_port(None) == 65535
    assert serve_port(0) == 0  # an explicit --port 0 still asks the system for a free port


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("ad%2Fmin%20x:secret1-kept-out", "secret1-kept-out"),  # root `ad/min x`: no /clients route reaches it
        ("admin%3Fx:secret2-kept-out", "secret2-kept-out"),
        ("ad min:secret3-kept-out", "secret3-kept-out"),
        ("no-colon-secret4-kept-out", "no-colon-secret4-kept-out"),
        (":secret5-kept-out", "secret5-kept-out"),
        ("admin:shrt5", "shrt5"),
        ("admin:" + "s" * 513, "s" * 513),
        ("a" * 256 + ":secret6-kept-out", "secret6-kept-out"),
    ],
)
def test_forced_root_credentials_are_checked_when_read_never_showing_the_secret(raw: str, secret: str) -> None:
    with pytest.raises(ConfigError, match=r"^FORCE_ROOT_CLIENT_CREDENTIALS: ") as caught:
        Settings.from_env({"FORCE_ROOT_CLIENT_CREDENTIALS": raw})
    assert secret not in str(caught.value) and "kept" not in str(caught.value)


def test_forced_root_credentials_may_use_any_addressable_id() -> None:
    from hydra_lambda.config import root_credentials

    raw = "my%3Aadmin:s%40cret%2Bvalue%3A1"
    assert Settings.from_env({"FORCE_ROOT_CLIENT_CREDENTIALS": raw}).force_root_client_credentials == raw
    assert root_credentials(raw) == ("my:admin", "s@cret+value:1")


FUNCTIONS = ["admin", "clients", "consent", "discovery", "flush", "keyrotation", "oauth2"]


def _import_function(function: str, env: dict[str, str]) -> tuple[int, str]:
    """Import functions/<function>/app.py in a fresh interpreter as Lambda's init does."""
    import subprocess
    import sys

    from tests.support import ROOT

    script = f"import sys; sys.path[:0] = ['functions/{function}', 'shared']\nimport app\nprint('imported')\n"
    base = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": f"hydra-{function}", "LAMBDA_TASK_ROOT": "/tmp",
            "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true", "ISSUER": ""}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**base, **env}, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_bad_setting_fails_the_functions_init_with_its_message(function: str) -> None:
    # Read lazily, a bad value failed every request (a non-JSON 500 from API Gateway) and /health said 200.
    code, output = _import_function(function, {"ACCESS_TOKEN_LIFESPAN": "0"})
    assert code != 0
    assert "ConfigError: ACCESS_TOKEN_LIFESPAN: must be 1s to 87600h (10 years) (got '0')" in output


@pytest.mark.parametrize("function", ["discovery", "oauth2", "keyrotation"])
def test_a_short_system_secret_given_directly_fails_the_init_without_showing_it(function: str) -> None:
    code, output = _import_function(function, {"SYSTEM_SECRET": "good-system-secret-0123,tooshort-x4"})
    assert code != 0
    assert "ConfigError: SYSTEM_SECRET: every system secret must be at least 16 characters" in output
    assert "tooshort" not in output and "good-system" not in output


def test_good_settings_import_every_function_and_a_secret_arn_is_not_read_at_init() -> None:
    for function in FUNCTIONS:
        # SYSTEM_SECRET_ARN names a secret that cannot be read here: it is read at the first request.
        env = {"SYSTEM_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x", "SECRETSMANAGER_ENDPOINT":
               "http://127.0.0.1:9"}  # fmt: skip
        code, output = _import_function(function, env)
        assert code == 0 and output.strip().endswith("imported"), output


@pytest.mark.parametrize(
    "client_id", ["ad/min x", "ad min", "a?b", "a#b", "a" * 256, "é", "ok-id", "my:admin", "a" * 255]
)
def test_forced_root_ids_follow_the_same_rules_as_the_clients_api(client_id: str) -> None:
    from urllib.parse import quote

    from hydra_lambda.clients import registry as clients
    from hydra_lambda.errors import BadRequest

    try:
        clients.validate_client_id(client_id)
        api_accepts = True
    except BadRequest:
        api_accepts = False
    try:
        Settings.from_env({"FORCE_ROOT_CLIENT_CREDENTIALS": f"{quote(client_id, safe='')}:secret-123"})
        settings_accept = True
    except ConfigError:
        settings_accept = False
    assert settings_accept == api_accepts
