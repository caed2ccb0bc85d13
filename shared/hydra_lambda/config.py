"""The one settings object: every option is read from the environment here, once per container."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

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
        raise ValueError(f"not a duration: {text!r}")
    return int(total)


def _duration(env: dict[str, str], name: str, default: str) -> int:
    raw = env.get(name) or default
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc} (use e.g. 1h, 10m, 720h)") from exc
    if seconds < 0:
        raise ConfigError(f"{name} must not be negative")
    return seconds


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _list(env: dict[str, str], name: str, sep: str = ",") -> tuple[str, ...]:
    return tuple(part.strip() for part in (env.get(name) or "").split(sep) if part.strip())


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every option of hydra-lambda; the README's configuration table mirrors this class."""

    issuer: str = "http://127.0.0.1:4444"
    consent_url: str = "http://127.0.0.1:3000/consent"
    # Local server only: the example consent app's port and its demo users ("user:password,...").
    consent_app_port: int = 3000
    consent_app_users: str = "alice:alice-password,bob:bob-password"
    # SYSTEM_SECRET (comma-separated: the first signs, all verify) or SYSTEM_SECRET_ARN on AWS.
    system_secret: tuple[str, ...] = ()
    system_secret_arn: str = ""
    force_root_client_credentials: str = ""
    root_client_secret_arn: str = ""
    access_token_lifespan: int = 3600
    refresh_token_lifespan: int = 720 * 3600
    id_token_lifespan: int = 3600
    auth_code_lifespan: int = 600
    challenge_token_lifespan: int = 600
    refresh_token_grace_period: int = 0
    clients_table: str = "hydra-clients"
    tokens_table: str = "hydra-tokens"
    consent_table: str = "hydra-consent"
    policies_table: str = "hydra-policies"
    aws_region: str = "us-east-1"
    dynamodb_endpoint: str = ""
    kms_endpoint: str = ""
    secretsmanager_endpoint: str = ""
    signing_keys: tuple[str, ...] = ()
    signing_mode: str = "kms"
    # How long a container trusts its loaded signing keys (aliases resolved, public keys); 0 = for
    # the container's life. Scheduled rotation (which re-points aliases) sets it to an hour.
    signing_keys_cache_seconds: int = 0
    resource_name_prefix: str = "rn:hydra"
    max_body_bytes: int = 1024 * 1024
    policy_cache_seconds: int = 10
    # How long a container reuses a client record for client authentication (token, introspection,
    # revocation); 0 = off. Only found clients are kept. A deleted client, or an old secret after a
    # secret change, keeps working in OTHER warm containers for up to this long (the container that
    # made the change forgets the client at once).
    client_cache_seconds: int = 10
    oidc_discovery_claims_supported: tuple[str, ...] = ()
    oidc_discovery_scopes_supported: tuple[str, ...] = ()
    oidc_discovery_userinfo_endpoint: str = ""
    cors_allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        # Fixed at deploy time, never learnt from a request's Host or domain: with a custom domain and
        # the execute-api endpoint both reachable, containers must not disagree on ``iss``.
        issuer = env.get("ISSUER", cls.issuer).strip().rstrip("/")
        if not issuer and not env.get("AWS_LAMBDA_FUNCTION_NAME"):
            raise ConfigError("ISSUER must be set to the public URL of the API (the template sets it)")
        mode = (env.get("SIGNING_MODE") or "kms").lower()
        if mode not in {"kms", "envelope"}:
            raise ConfigError(f"SIGNING_MODE must be kms or envelope, got {mode!r}")
        prefix = (env.get("RESOURCE_NAME_PREFIX") or cls.resource_name_prefix).removesuffix(":")
        consent_app_port = _int(env, "CONSENT_APP_PORT", cls.consent_app_port)
        return cls(
            issuer=issuer,
            # Unset, it is the example consent app's local address (hydra-lambda serve starts that app).
            consent_url=env.get("CONSENT_URL") or f"http://127.0.0.1:{consent_app_port}/consent",
            consent_app_port=consent_app_port,
            consent_app_users=env.get("CONSENT_APP_USERS") or cls.consent_app_users,
            system_secret=_list(env, "SYSTEM_SECRET"),
            system_secret_arn=env.get("SYSTEM_SECRET_ARN", ""),
            force_root_client_credentials=env.get("FORCE_ROOT_CLIENT_CREDENTIALS", ""),
            root_client_secret_arn=env.get("ROOT_CLIENT_SECRET_ARN", ""),
            access_token_lifespan=_duration(env, "ACCESS_TOKEN_LIFESPAN", "1h"),
            refresh_token_lifespan=_duration(env, "REFRESH_TOKEN_LIFESPAN", "720h"),
            id_token_lifespan=_duration(env, "ID_TOKEN_LIFESPAN", "1h"),
            auth_code_lifespan=_duration(env, "AUTH_CODE_LIFESPAN", "10m"),
            challenge_token_lifespan=_duration(env, "CHALLENGE_TOKEN_LIFESPAN", "10m"),
            refresh_token_grace_period=_duration(env, "REFRESH_TOKEN_GRACE_PERIOD", "0s"),
            clients_table=env.get("CLIENTS_TABLE") or cls.clients_table,
            tokens_table=env.get("TOKENS_TABLE") or cls.tokens_table,
            consent_table=env.get("CONSENT_TABLE") or cls.consent_table,
            policies_table=env.get("POLICIES_TABLE") or cls.policies_table,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.aws_region,
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT", ""),
            kms_endpoint=env.get("KMS_ENDPOINT", ""),
            secretsmanager_endpoint=env.get("SECRETSMANAGER_ENDPOINT", ""),
            signing_keys=_list(env, "SIGNING_KEYS"),
            signing_mode=mode,
            signing_keys_cache_seconds=_int(env, "SIGNING_KEYS_CACHE_SECONDS", 0),
            resource_name_prefix=prefix,
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            policy_cache_seconds=_int(env, "POLICY_CACHE_SECONDS", cls.policy_cache_seconds),
            client_cache_seconds=_int(env, "CLIENT_CACHE_SECONDS", cls.client_cache_seconds),
            oidc_discovery_claims_supported=_list(env, "OIDC_DISCOVERY_CLAIMS_SUPPORTED"),
            oidc_discovery_scopes_supported=_list(env, "OIDC_DISCOVERY_SCOPES_SUPPORTED"),
            oidc_discovery_userinfo_endpoint=env.get("OIDC_DISCOVERY_USERINFO_ENDPOINT", ""),
            cors_allowed_origins=_list(env, "CORS_ALLOWED_ORIGINS"),
        )

    def url(self, path: str) -> str:
        """An absolute URL under the issuer, never with a double slash."""
        return self.issuer + "/" + path.lstrip("/")


_current: Settings | None = None
# API Gateway API ids: lower-case letters and digits (ten on AWS).
API_ID = re.compile(r"[a-z0-9]{1,32}")


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
