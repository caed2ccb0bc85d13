"""The token hook: before the tokens of any grant are issued, ask the operator's code whether to issue
them and with which extra claims, as Ory Hydra's ``oauth2.token_hook`` and Cognito's pre-token-
generation trigger do. Off unless ``TOKEN_HOOK_URL`` (an https URL, POSTed to through
``hydra_lambda.fetch``: public addresses only, no redirects, a size cap) or ``TOKEN_HOOK_FUNCTION`` (a
Lambda function invoked with ``RequestResponse``) is set; ``TOKEN_HOOK_TIMEOUT_MS`` bounds the call.

The request is Hydra's: ``{"session": {...}, "request": {"client_id", "granted_scopes",
"granted_audience", "grant_types", "payload"}}`` (``session.extra``: the access-token claims so far;
``session.id_token.id_token_claims.ext``: the ID token's). The answer:

- 200 with ``{"session": {"access_token": {...}, "id_token": {...}}}``: each object present becomes
  the claims of that token (``ext`` of the access token, custom claims of the ID token), in place of
  the consent's (as Hydra replaces them: echo what you want kept); a member left out keeps the consent's;
- 204: issue as is;
- 403: refuse: ``access_denied``, nothing issued;
- anything else (another status, a body that is not that shape, no answer in time, a function error):
  no token is issued (``server_error``) and one error line is logged, naming the client, the grant
  and the reason, never a token or a claim value.

A Lambda hook gets the same JSON as its event and returns either the 200 body (``{"session": ...}``),
``null`` or ``{}`` (as 204), or ``{"statusCode": 200|204|403, "body": ...}`` (``body`` an object or
its JSON text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hydra_lambda.config import get_settings
from hydra_lambda.errors import AccessDenied, ServerError
from hydra_lambda.observability import logger

MAX_ANSWER_BYTES = 256 * 1024


@dataclass(frozen=True)
class HookRequest:
    """What the hook is told about the tokens about to be issued."""

    client_id: str
    grant_type: str
    subject: str
    granted_scopes: list[str]
    granted_audience: list[str] = field(default_factory=list)
    access_claims: dict[str, Any] = field(default_factory=dict)
    id_claims: dict[str, Any] = field(default_factory=dict)
    id_subject: str = ""  # the ID token's sub (a pairwise client's own identifier)
    auth_time: int = 0
    acr: str = ""
    amr: list[str] = field(default_factory=list)
    request_id: str = ""
    payload: dict[str, list[str]] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """Ory Hydra's ``TokenHookRequest`` JSON."""
        id_token_claims: dict[str, Any] = {"sub": self.id_subject or self.subject, "ext": dict(self.id_claims)}
        if self.auth_time:
            id_token_claims["auth_time"] = self.auth_time
        if self.acr:
            id_token_claims["acr"] = self.acr
        if self.amr:
            id_token_claims["amr"] = list(self.amr)
        return {
            "session": {
                "id_token": {"id_token_claims": id_token_claims, "headers": {"extra": {}}, "username": "",
                             "subject": self.subject},
                "extra": dict(self.access_claims),
                "client_id": self.client_id,
                "consent_challenge": self.request_id,
            },
            "request": {
                "client_id": self.client_id,
                "granted_scopes": list(self.granted_scopes),
                "granted_audience": list(self.granted_audience),
                "grant_types": [self.grant_type],
                "payload": {k: list(v) for k, v in self.payload.items()},
            },
        }


@dataclass(frozen=True)
class HookAnswer:
    """What the hook decided: the claims replacing each token's (None: keep the consent's)."""

    access_claims: dict[str, Any] | None = None
    id_claims: dict[str, Any] | None = None


KEEP = HookAnswer()


class _Failed(Exception):
    """The hook gave no usable answer; the message says why (never a claim or token value)."""


def configured() -> bool:
    settings = get_settings()
    return bool(settings.token_hook_url or settings.token_hook_function)


def run(request: HookRequest) -> HookAnswer:
    """Ask the configured hook (KEEP when none is): AccessDenied when it refuses, ServerError (logged)
    when it fails."""
    settings = get_settings()
    if not configured():
        return KEEP
    target = "url" if settings.token_hook_url else "function"
    try:
        status, body = _call_url(request) if target == "url" else _call_function(request)
        answer = _judge(status, body)
    except _Failed as exc:
        logger.error("the token hook failed; no token was issued",
                     extra={"client_id": request.client_id, "grant_type": request.grant_type, "hook": target,
                            "reason": str(exc)})
        raise ServerError("The token hook failed, so no token was issued; try again later.") from None
    if answer is None:
        logger.info("the token hook refused the tokens",
                    extra={"client_id": request.client_id, "grant_type": request.grant_type})
        raise AccessDenied("The token hook refused to issue tokens for this request.")
    return answer


def _timeout() -> float:
    return get_settings().token_hook_timeout_ms / 1000


def _call_url(request: HookRequest) -> tuple[int, Any]:
    from hydra_lambda import fetch  # lazy: urllib3, only when a hook URL is set

    try:
        status, raw = fetch.post_json(get_settings().token_hook_url, request.body(), timeout=_timeout(),
                                      max_bytes=MAX_ANSWER_BYTES)
    except fetch.FetchError as exc:
        raise _Failed(f"the hook URL gave no answer: {exc}") from None
    if status != 200:
        return status, None
    return status, _parse(raw)


def _call_function(request: HookRequest) -> tuple[int, Any]:
    from hydra_lambda import aws

    payload = json.dumps(request.body(), separators=(",", ":")).encode("utf-8")
    try:
        answer = aws.client("lambda", timeout=_timeout()).invoke(
            FunctionName=get_settings().token_hook_function, InvocationType="RequestResponse", Payload=payload)
    except Exception as exc:  # botocore's errors, a read timeout: all mean no answer
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") or type(exc).__name__
        raise _Failed(f"the hook function could not be invoked ({code})") from None
    if answer.get("FunctionError"):
        raise _Failed(f"the hook function failed ({answer['FunctionError'][:40]})")
    stream = answer.get("Payload")
    raw = stream.read(MAX_ANSWER_BYTES + 1) if stream is not None else b""
    if len(raw) > MAX_ANSWER_BYTES:
        raise _Failed(f"the hook function answered more than {MAX_ANSWER_BYTES} bytes")
    return _unwrap(_parse(raw) if raw.strip() else None)


def _unwrap(result: Any) -> tuple[int, Any]:
    """A Lambda hook's result as (status, body): the body itself, null or {} (204), or a
    ``statusCode`` envelope."""
    if result is None or result == {}:
        return 204, None
    if isinstance(result, dict) and "statusCode" in result:
        status = result["statusCode"]
        if not isinstance(status, int) or isinstance(status, bool):
            raise _Failed("the hook function's statusCode is not a number")
        body = result.get("body")
        if isinstance(body, str):
            body = _parse(body.encode("utf-8"))
        return status, body
    return 200, result


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _Failed("the hook's answer is not JSON") from None


def _judge(status: int, body: Any) -> HookAnswer | None:
    """The answer for a status and body; None when the hook refused (403)."""
    if status == 204:
        return KEEP
    if status == 403:
        return None
    if status != 200:
        raise _Failed(f"the hook answered HTTP {status}")
    session = body.get("session") if isinstance(body, dict) else None
    if not isinstance(session, dict):
        raise _Failed("the hook's 200 answer has no session object")
    return HookAnswer(access_claims=_claims(session, "access_token"), id_claims=_claims(session, "id_token"))


def _claims(session: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = session.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Failed(f"the hook's session.{name} is not an object")
    return value
