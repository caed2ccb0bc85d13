"""The one settings object: every option is declared once below (environment variable, type, default
written as you would write it in the environment, and what it does) and read once per container.

A dataclass and a table of parsers rather than pydantic(-settings): settings are read by every
route, and importing pydantic costs ~45 ms of a cold start that the read routes otherwise never pay
(tests/test_perf_coldstart.py). An empty ``ISSUER`` also means something (see ``adopt_api_issuer``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable."""


def parse_duration(text: str) -> int:
    """Parse a Go-style duration ("1h", "10m", "1h30m", "90s") into whole seconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError("not a Go duration (use e.g. 1h, 10m, 720h)")
    if not math.isfinite(total):
        raise ValueError("too large")
    return int(total)


def _show_seconds(seconds: int) -> str:
    """``seconds`` as the README and the errors write it: 87600h, 5m, 1s."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _whole_number(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


# Longest lifespan or cache time: expiries are written as 10-digit Unix times in token row keys (the
# flush compares them as text), and ten years from now fits until the year 2286.
MAX_SECONDS = 10 * 365 * 24 * 3600  # 87600h
_TEN_YEARS = " (10 years)"
# Ory Hydra's own bound for a refresh grace period without a reuse count.
MAX_GRACE_PERIOD = 5 * 60
PORTS = (1, 65535)
MIN_SYSTEM_SECRET_LENGTH = 16
LIFESPAN = (1, MAX_SECONDS)  # a duration that becomes an expiry: at least a second, at most ten years
CACHE_TIME = (0, MAX_SECONDS)  # how long something is kept (0: see each option)


def absolute_http_url(value: str) -> None:
    """An absolute http(s) URL with a host and no fragment (empty is left to the caller)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or "#" in value or (
        "@" in parts.netloc or " " in value
    ):
        raise ValueError("must be an absolute http(s) URL such as https://auth.example.com/path (no fragment)")


def base_url(value: str) -> None:
    """ISSUER: an absolute http(s) URL that every endpoint's path is appended to (no query either)."""
    absolute_http_url(value)
    if "?" in value:
        raise ValueError("must be an absolute http(s) URL such as https://auth.example.com (no query or fragment)")


def origins(value: tuple[str, ...]) -> None:
    """Origins as browsers send them (compared as text): scheme://host[:port] in lower case, without
    path or trailing slash; or ``*``."""
    for origin in value:
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            parts = urlsplit("")
        exact = f"{parts.scheme}://{parts.netloc}" == origin == origin.lower()
        if origin != "*" and not (parts.scheme in ("http", "https") and parts.hostname and exact
                                  and "@" not in origin and " " not in origin):
            raise ValueError(
                "each entry must be * or an origin, scheme://host[:port] in lower case "
                "(e.g. https://app.example.com, no path or trailing slash)"
            )


# The types an option may have, by annotation, with how its environment text is read.
Seconds = int  # whole seconds, written in Go duration syntax ("1h", "10m", "1h30m", "90s") or as a number
CommaList = tuple[str, ...]  # comma-separated values; blanks around commas are dropped
_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str.strip,
    "int": _whole_number,
    "Seconds": parse_duration,
    "CommaList": _comma_list,
}
# Variables whose empty value is kept; every other empty variable means "use the default".
_EMPTY_IS_A_VALUE = frozenset({"ISSUER"})
# Values never echoed in an error message.
_SECRET_VARIABLES = frozenset({"SYSTEM_SECRET", "FORCE_ROOT_CLIENT_CREDENTIALS", "SUBJECT_IDENTIFIERS_PAIRWISE_SALT",
                               "OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN"})


ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")


def role_arns(value: tuple[str, ...]) -> None:
    """IAM role ARNs of one account (the template passes its functions' roles)."""
    if not all(ROLE_ARN.fullmatch(arn) for arn in value) or len({arn.split(":")[4] for arn in value}) > 1:
        raise ValueError("each entry must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), all of one account")


def system_secrets(value: tuple[str, ...]) -> None:
    """SYSTEM_SECRET given directly (one read from SYSTEM_SECRET_ARN is checked when it is read)."""
    if any(len(secret) < MIN_SYSTEM_SECRET_LENGTH for secret in value):
        raise ValueError(f"every system secret must be at least {MIN_SYSTEM_SECRET_LENGTH} characters")


MIN_PAIRWISE_SALT_LENGTH = 16


def pairwise_salt(value: str) -> None:
    """SUBJECT_IDENTIFIERS_PAIRWISE_SALT: long enough that nobody guesses it (whoever knows it and a
    user's local subject can compute that user's pairwise identifier at any sector)."""
    if len(value) < MIN_PAIRWISE_SALT_LENGTH:
        raise ValueError(f"must be at least {MIN_PAIRWISE_SALT_LENGTH} characters (or empty: no pairwise subjects)")


def root_credentials(value: str) -> tuple[str, str]:
    """FORCE_ROOT_CLIENT_CREDENTIALS, ``urlencoded(id):urlencoded(secret)``, as (id, secret); the id
    obeys the API's client id rules (a root client no /clients route could address is refused) and
    the secret its length rules. Messages never hold the secret."""
    from hydra_lambda import client_ids, passwords  # lazy (standard library only): only when it is set

    client_id, sep, secret = value.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    low, high = client_ids.MIN_SECRET_LENGTH, passwords.MAX_SECRET_LENGTH
    if not sep or not client_id or not low <= len(secret) <= high:
        raise ValueError(f"must be id:secret (each URL-encoded) with a secret of {low} to {high} characters")
    if not client_ids.is_valid_client_id(client_id):
        raise ValueError(f"the client {client_ids.ID_RULE}")
    return client_id, secret


def _subset_of(kind: str, allowed: tuple[str, ...]) -> Callable[[tuple[str, ...]], None]:
    def check(value: tuple[str, ...]) -> None:
        unknown = [item for item in value if item not in allowed]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a supported {kind} (supported: {', '.join(allowed)})")
    return check


def registration_grant_types(value: tuple[str, ...]) -> None:
    from hydra_lambda.clients.model import SUPPORTED_GRANT_TYPES  # lazy: only when it is set

    _subset_of("grant type", SUPPORTED_GRANT_TYPES)(value)


def registration_response_types(value: tuple[str, ...]) -> None:
    from hydra_lambda.clients.model import SUPPORTED_RESPONSE_TYPES

    _subset_of("response type", SUPPORTED_RESPONSE_TYPES)(value)


def registration_auth_methods(value: tuple[str, ...]) -> None:
    from hydra_lambda.clients.model import AUTH_METHODS

    _subset_of("token endpoint auth method", AUTH_METHODS)(value)


INITIAL_TOKEN_HASH = re.compile(r"sha256:[0-9a-f]{64}")
MIN_INITIAL_TOKEN_LENGTH = 20


def initial_access_token(value: str) -> None:
    """OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN: the token itself (at least 20 characters)
    or ``sha256:`` and the lower-case hex SHA-256 of it (so the environment need not hold the token).
    Messages never hold the value."""
    if value.startswith("sha256:"):
        if not INITIAL_TOKEN_HASH.fullmatch(value):
            raise ValueError("sha256: must be followed by 64 lower-case hex digits (the SHA-256 of the token)")
    elif len(value) < MIN_INITIAL_TOKEN_LENGTH or any(ch.isspace() for ch in value):
        raise ValueError(f"must be at least {MIN_INITIAL_TOKEN_LENGTH} characters without spaces, "
                         "or sha256:<hex digest of the token>")


def hook_url(value: str) -> None:
    """TOKEN_HOOK_URL: an absolute https URL (http only for loopback hosts with FETCH_ALLOW_LOOPBACK,
    which hydra_lambda.fetch checks when it calls)."""
    parts = urlsplit(value)
    parts.port  # noqa: B018 - raises ValueError on a bad port
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise ValueError("must be an https URL (no fragment or user info)")


LAMBDA_FUNCTION = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)


def hook_function(value: str) -> None:
    """TOKEN_HOOK_FUNCTION: a Lambda function name or ARN, optionally qualified (version or alias)."""
    if not LAMBDA_FUNCTION.fullmatch(value):
        raise ValueError("must be a Lambda function name or ARN (optionally :alias or :version)")


def option(
    variable: str,
    default: str,
    doc: str,
    *also: str,
    choices: tuple[str, ...] = (),
    bounds: tuple[int, int | None] | None = None,
    check: Callable[[Any], None] | None = None,
) -> Any:
    """One option: its environment variable (``also``: fallbacks read when it is unset), its default as
    it would be written in the environment, what it does (the README's table says it at length) and,
    for some, the values allowed: ``choices``, inclusive ``bounds`` (None: no upper bound; the README
    states them as ``range_text`` writes them) or a ``check`` raising ValueError."""
    meta = {"variables": (variable, *also), "default": default, "doc": doc, "choices": choices,
            "bounds": bounds, "check": check}
    return field(metadata=meta)


def range_text(option: dataclasses.Field[Any]) -> str:
    """An option's bounds as the README and the errors write them ("" when it has none)."""
    bounds = option.metadata["bounds"]
    if bounds is None:
        return ""
    show = _show_seconds if str(option.type) == "Seconds" else str
    low, high = bounds
    if high is None:
        return f"at least {show(low)}"
    return f"{show(low)} to {show(high)}" + (_TEN_YEARS if high == MAX_SECONDS else "")


@dataclass(frozen=True)
class Settings:
    """Every option of hydra-lambda; tests/test_config.py checks the README's table against it."""

    issuer: str = option(
        "ISSUER", "http://127.0.0.1:4444", "public base URL; empty on Lambda: the execute-api URL",
        check=base_url,
    )
    consent_app_port: int = option("CONSENT_APP_PORT", "3000", "local example consent app's port", bounds=PORTS)
    admin_port: int = option(
        "ADMIN_PORT", "4445", "make run's admin port on 127.0.0.1: the admin routes without a token; 0: none",
        bounds=(0, PORTS[1]),
    )
    consent_url: str = option(
        "CONSENT_URL", "", "login and consent app (unset: the local example app)", check=absolute_http_url
    )
    # Ory Hydra's urls.* (the current login/consent/logout flow): URLS_LOGIN and URLS_CONSENT together turn it on.
    urls_login: str = option("URLS_LOGIN", "", "login app of the current flow (with URLS_CONSENT: turns it on)",
                             check=absolute_http_url)
    urls_consent: str = option("URLS_CONSENT", "", "consent app of the current flow", check=absolute_http_url)
    urls_logout: str = option("URLS_LOGOUT", "", "logout app of the current flow", check=absolute_http_url)
    urls_post_logout_redirect: str = option(
        "URLS_POST_LOGOUT_REDIRECT", "", "where a logout ends without a client's post_logout_redirect_uri",
        check=absolute_http_url,
    )
    urls_error: str = option("URLS_ERROR", "", "error page of the current flow", check=absolute_http_url)
    # RFC 8628 (the device flow, riding the current flow): Hydra's urls.device.verification and .success.
    urls_device_verification: str = option(
        "URLS_DEVICE_VERIFICATION", "", "device verification page (the user enters the user code; unset: no device "
        "flow)", check=absolute_http_url)
    urls_device_success: str = option(
        "URLS_DEVICE_SUCCESS", "", "where a device login ends (unset: a page of the server)", check=absolute_http_url)
    # OpenID Connect Back-Channel Logout 1.0: the template sets it to the stack's queue (its consumer signs
    # and POSTs the logout tokens); unset (make run, tests), the same delivery runs in a background thread.
    backchannel_logout_queue_url: str = option(
        "BACKCHANNEL_LOGOUT_QUEUE_URL", "", "SQS queue of back-channel logout deliveries (unset: in-process)",
    )
    consent_app_users: str = option(
        "CONSENT_APP_USERS", "alice:alice-password,bob:bob-password", "the example app's demo users"
    )
    system_secret: CommaList = option(
        "SYSTEM_SECRET", "", "HMAC keys of opaque tokens; the first signs", check=system_secrets
    )
    system_secret_arn: str = option("SYSTEM_SECRET_ARN", "", "Secrets Manager secret holding SYSTEM_SECRET")
    system_secret_cache_seconds: Seconds = option(
        "SYSTEM_SECRET_CACHE_SECONDS", "5m", "how long a container keeps the secret read from SYSTEM_SECRET_ARN",
        bounds=CACHE_TIME,
    )
    force_root_client_credentials: str = option(
        "FORCE_ROOT_CLIENT_CREDENTIALS", "", "root client id:secret", check=root_credentials
    )
    root_client_secret_arn: str = option("ROOT_CLIENT_SECRET_ARN", "", "where generated root credentials go")
    access_token_lifespan: Seconds = option("ACCESS_TOKEN_LIFESPAN", "1h", "access tokens", bounds=LIFESPAN)
    refresh_token_lifespan: Seconds = option("REFRESH_TOKEN_LIFESPAN", "720h", "refresh tokens", bounds=LIFESPAN)
    id_token_lifespan: Seconds = option("ID_TOKEN_LIFESPAN", "1h", "ID tokens", bounds=LIFESPAN)
    auth_code_lifespan: Seconds = option("AUTH_CODE_LIFESPAN", "10m", "authorization codes", bounds=LIFESPAN)
    challenge_token_lifespan: Seconds = option("CHALLENGE_TOKEN_LIFESPAN", "10m", "consent requests", bounds=LIFESPAN)
    # Ory Hydra's oauth2.grant.jwt.max_ttl: a JWT bearer grant's assertion may expire at most this far
    # ahead (its jti is remembered until then: storage/assertions.py).
    oauth2_grant_jwt_max_ttl: Seconds = option(
        "OAUTH2_GRANT_JWT_MAX_TTL", "720h", "how far ahead a JWT bearer grant assertion's exp may be",
        bounds=LIFESPAN,
    )
    device_code_lifespan: Seconds = option("DEVICE_CODE_LIFESPAN", "10m", "device and user codes (RFC 8628)",
                                           bounds=LIFESPAN)
    refresh_token_grace_period: Seconds = option(
        "REFRESH_TOKEN_GRACE_PERIOD", "0s", "how long a rotated refresh token still gets a fresh pair",
        bounds=(0, MAX_GRACE_PERIOD),
    )
    clients_table: str = option("CLIENTS_TABLE", "hydra-clients", "DynamoDB table of clients")
    tokens_table: str = option("TOKENS_TABLE", "hydra-tokens", "DynamoDB table of tokens")
    consent_table: str = option("CONSENT_TABLE", "hydra-consent", "DynamoDB table of consent requests")
    policies_table: str = option("POLICIES_TABLE", "hydra-policies", "DynamoDB table of policies")
    sessions_table: str = option("SESSIONS_TABLE", "hydra-sessions", "DynamoDB table of login and consent sessions")
    aws_region: str = option("AWS_REGION", "us-east-1", "region of every AWS service", "AWS_DEFAULT_REGION")
    dynamodb_endpoint: str = option("DYNAMODB_ENDPOINT", "", "DynamoDB endpoint (e.g. DynamoDB Local)")
    kms_endpoint: str = option("KMS_ENDPOINT", "", "KMS endpoint")
    secretsmanager_endpoint: str = option("SECRETSMANAGER_ENDPOINT", "", "Secrets Manager endpoint")
    signing_keys: CommaList = option("SIGNING_KEYS", "", "ID token signing keys; the first signs")
    signing_keys_ps256: CommaList = option(
        "SIGNING_KEYS_PS256", "", "RSA signing keys for PS256 (optional); the first signs, all are published"
    )
    signing_keys_es256: CommaList = option(
        "SIGNING_KEYS_ES256", "", "P-256 signing keys for ES256 (optional); the first signs, all are published"
    )
    signing_mode: str = option("SIGNING_MODE", "kms", "who signs ID tokens", choices=("kms", "envelope"))
    # 0 = for the container's life. Scheduled rotation (which re-points aliases) sets it to an hour.
    signing_keys_cache_seconds: Seconds = option(
        "SIGNING_KEYS_CACHE_SECONDS", "0", "how long a container trusts its loaded signing keys",
        bounds=CACHE_TIME,
    )
    retired_key_deletion_days: int = option(
        "RETIRED_KEY_DELETION_DAYS", "30", "days before a key rotated out over the API is deleted",
        bounds=(7, 30),  # KMS's pending window, as rotation.DELETION_WINDOW_DAYS and the template
    )
    # Keys a rotation makes get a key policy naming these roles (the template's SigningKey has the same).
    signing_key_signer_roles: CommaList = option(
        "SIGNING_KEY_SIGNER_ROLES", "", "roles allowed to sign with keys a rotation makes", check=role_arns
    )
    signing_key_reader_roles: CommaList = option(
        "SIGNING_KEY_READER_ROLES", "", "roles allowed to read the public half of keys a rotation makes",
        check=role_arns,
    )
    resource_name_prefix: str = option("RESOURCE_NAME_PREFIX", "rn:hydra", "prefix of policy resource names")
    max_body_bytes: int = option("MAX_BODY_BYTES", "1048576", "larger request bodies get 413", bounds=(1, None))
    policy_cache_seconds: Seconds = option(
        "POLICY_CACHE_SECONDS", "10", "how long the policy table is cached", bounds=CACHE_TIME
    )
    # Only found clients are kept. A deleted client, or an old secret after a secret change, keeps
    # working in OTHER warm containers for up to this long (the container that made the change forgets
    # the client at once).
    client_cache_seconds: Seconds = option(
        "CLIENT_CACHE_SECONDS", "10", "how long a client record is reused for client authentication",
        bounds=CACHE_TIME,
    )
    # A client's jwks_uri document (private_key_jwt, request objects). An unknown kid fetches it again
    # once (at most every few seconds per URI), so a client's new key works before this runs out.
    client_jwks_cache_seconds: Seconds = option(
        "CLIENT_JWKS_CACHE_SECONDS", "5m", "how long a client's jwks_uri document is reused", bounds=CACHE_TIME,
    )
    oidc_discovery_claims_supported: CommaList = option(
        "OIDC_DISCOVERY_CLAIMS_SUPPORTED", "", "extra claims advertised by discovery"
    )
    oidc_discovery_scopes_supported: CommaList = option(
        "OIDC_DISCOVERY_SCOPES_SUPPORTED", "", "extra scopes advertised by discovery"
    )
    oidc_discovery_userinfo_endpoint: str = option(
        "OIDC_DISCOVERY_USERINFO_ENDPOINT", "", "userinfo URL advertised by discovery", check=absolute_http_url
    )
    # Only for tests and `make run`, where a relying party's keys are served from this machine.
    fetch_allow_loopback: str = option(
        "FETCH_ALLOW_LOOPBACK", "false", "whether registered URLs (jwks_uri...) may name loopback hosts",
        choices=("true", "false"),
    )
    # OpenID Connect Dynamic Client Registration 1.0 / RFC 7591 / RFC 7592 at /oauth2/register (Hydra's
    # own setting name); the policy below bounds what a self-registered client may have.
    oidc_dynamic_client_registration_enabled: str = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED", "false", "whether relying parties may register themselves",
        choices=("true", "false"),
    )
    oidc_dynamic_client_registration_initial_access_token: str = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN", "",
        "Bearer token a registration must present (empty: open registration)", check=initial_access_token,
    )
    oidc_dynamic_client_registration_grant_types: CommaList = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_GRANT_TYPES", "authorization_code,refresh_token,implicit",
        "grant types a self-registered client may have", check=registration_grant_types,
    )
    oidc_dynamic_client_registration_response_types: CommaList = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_RESPONSE_TYPES", "code,id_token,token",
        "response types (alone or combined) a self-registered client may have", check=registration_response_types,
    )
    oidc_dynamic_client_registration_scope: CommaList = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_SCOPE", "openid,offline,offline_access,profile,email,address,phone",
        "scopes a self-registered client may have (its scope when it asks for none)",
    )
    oidc_dynamic_client_registration_auth_methods: CommaList = option(
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_AUTH_METHODS",
        "client_secret_basic,client_secret_post,client_secret_jwt,private_key_jwt",
        "token endpoint auth methods a self-registered client may have (add none for public clients)",
        check=registration_auth_methods,
    )
    # Ory Hydra's subject_identifiers.pairwise.salt. Never change it once pairwise clients have users:
    # every pairwise identifier changes with it (hydra_lambda.subjects).
    subject_identifiers_pairwise_salt: str = option(
        "SUBJECT_IDENTIFIERS_PAIRWISE_SALT", "", "salt of pairwise subject identifiers (empty: public only)",
        check=pairwise_salt,
    )
    cors_allowed_origins: CommaList = option(
        "CORS_ALLOWED_ORIGINS", "", "origins allowed to call the API", check=origins
    )
    # RFC 9068 JWT access tokens or opaque ones, for clients whose access_token_strategy is empty.
    access_token_strategy: str = option(
        "ACCESS_TOKEN_STRATEGY", "opaque", "access tokens of clients that chose no strategy",
        choices=("opaque", "jwt"),
    )
    # Ory Hydra's oauth2.token_hook (an https URL) or a Lambda function (its name or ARN) that may add
    # claims to, or refuse, the tokens of every grant before they are issued (hydra_lambda.tokens.hook).
    token_hook_url: str = option(
        "TOKEN_HOOK_URL", "", "https URL called before tokens are issued (Hydra's token hook)", check=hook_url
    )
    token_hook_function: str = option(
        "TOKEN_HOOK_FUNCTION", "", "Lambda function invoked before tokens are issued (name or ARN)",
        check=hook_function,
    )
    token_hook_timeout_ms: int = option(
        "TOKEN_HOOK_TIMEOUT_MS", "3000", "how long the token hook may take (ms); then no token is issued",
        bounds=(100, 5000),
    )

    @classmethod
    def options(cls) -> tuple[dataclasses.Field[Any], ...]:
        """The declaration: each field's metadata holds variables, default, doc and choices."""
        return dataclasses.fields(cls)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """The settings in ``env`` (default: the process environment); ConfigError names a bad variable."""
        env = dict(os.environ if env is None else env)
        values = {option.name: _read(option, env) for option in cls.options()}
        # Fixed at deploy time, never learnt from a request's Host or domain: with a custom domain and
        # the execute-api endpoint both reachable, containers must not disagree on ``iss``.
        values["issuer"] = values["issuer"].rstrip("/")
        if not values["issuer"] and not env.get("AWS_LAMBDA_FUNCTION_NAME"):
            raise ConfigError("ISSUER must be set to the public URL of the API (the template sets it)")
        # Unset, it is the example consent app's local address (hydra-lambda serve starts that app).
        values["consent_url"] = values["consent_url"] or f"http://127.0.0.1:{values['consent_app_port']}/consent"
        values["resource_name_prefix"] = values["resource_name_prefix"].removesuffix(":")
        if values["token_hook_url"] and values["token_hook_function"]:
            raise ConfigError("TOKEN_HOOK_URL and TOKEN_HOOK_FUNCTION name one token hook: set one of them")
        if bool(values["urls_login"]) != bool(values["urls_consent"]):
            raise ConfigError("URLS_LOGIN and URLS_CONSENT turn the current login/consent flow on together: set both "
                              "or neither")
        return cls(**values)

    @property
    def pairwise_subjects(self) -> bool:
        """Whether clients may register ``subject_type: pairwise`` (a salt is set)."""
        return bool(self.subject_identifiers_pairwise_salt)

    @property
    def current_flow(self) -> bool:
        """Whether ``/oauth2/auth`` runs the current login/consent flow (URLS_LOGIN and URLS_CONSENT)."""
        return bool(self.urls_login)

    @property
    def device_flow(self) -> bool:
        """Whether the device authorization grant is served (the current flow and a device page)."""
        return self.current_flow and bool(self.urls_device_verification)

    @property
    def fetches_loopback(self) -> bool:
        return self.fetch_allow_loopback == "true"

    @property
    def registration_enabled(self) -> bool:
        return self.oidc_dynamic_client_registration_enabled == "true"

    def url(self, path: str) -> str:
        """An absolute URL under the issuer, never with a double slash."""
        return self.issuer + "/" + path.lstrip("/")


def _read(option: dataclasses.Field[Any], env: dict[str, str]) -> Any:
    """One option's value: the first of its variables that is set (and not empty, unless empty is a
    value for it), else its default, read by the parser of its type."""
    meta = option.metadata
    variable, text = meta["variables"][0], meta["default"]
    for name in meta["variables"]:
        if env.get(name) or (name in _EMPTY_IS_A_VALUE and name in env):
            variable, text = name, env[name]
            break
    try:
        value = _PARSERS[str(option.type)](text)
        if meta["choices"]:
            value = value.lower()
            if value not in meta["choices"]:
                raise ValueError("must be one of " + ", ".join(meta["choices"]))
        low, high = meta["bounds"] or (None, None)
        if low is not None and (value < low or (high is not None and value > high)):
            raise ValueError("must be " + range_text(option))
        if meta["check"] and value:
            meta["check"](value)
    except ValueError as exc:
        shown = "" if variable in _SECRET_VARIABLES else f" (got {text!r})"
        raise ConfigError(f"{variable}: {exc}{shown}") from None
    return value


_current: Settings | None = None
# API Gateway API ids: lower-case letters and digits (ten on AWS).
API_ID = re.compile(r"[a-z0-9]{1,32}")


def read_at_init() -> Settings:
    """Read and check the settings when a function's module is imported (Lambda's init phase): a bad
    value then fails the container's init with the ConfigError's message in the function's log,
    instead of every request answering API Gateway's non-JSON 500."""
    return get_settings()


def get_settings() -> Settings:
    """The settings of this container, read from the environment on first use."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def adopt_api_issuer(api_id: str) -> None:
    """On Lambda with ISSUER left empty (the template's default): the API's own execute-api URL, from
    the API id API Gateway puts in every event. Never from a Host header or the domain a request came
    through, so every container of the stack agrees on ``iss`` whichever domain was used."""
    global _current
    settings = get_settings()
    if settings.issuer or not API_ID.fullmatch(api_id):
        return
    suffix = "amazonaws.com.cn" if settings.aws_region.startswith("cn-") else "amazonaws.com"
    _current = dataclasses.replace(settings, issuer=f"https://{api_id}.execute-api.{settings.aws_region}.{suffix}")


def reset_settings() -> None:
    """Forget the settings (tests and the local server change the environment)."""
    global _current
    _current = None
