"""The one error hierarchy. Each error knows its status and renders itself in its wire format.

OAuth endpoints answer RFC 6749 section 5.2 JSON; admin endpoints answer the classic Hydra
shape ``{"error": {"code", "status", "request", "reason", "message"}}``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar


class HydraError(Exception):
    """Base of every error a request can end in."""

    status: ClassVar[int] = 500

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def body(self, request_id: str = "") -> dict[str, Any]:
        raise NotImplementedError


class OAuth2Error(HydraError):
    """An RFC 6749 error: ``error``, ``error_description`` and an optional ``error_hint``."""

    error: ClassVar[str] = "server_error"
    default_description: ClassVar[str] = "The authorization server encountered an unexpected condition."

    def __init__(
        self,
        description: str = "",
        *,
        hint: str = "",
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(description or self.default_description, headers=headers)
        self.description = description or self.default_description
        self.hint = hint
        if status is not None:
            self.status = status  # type: ignore[misc]

    def body(self, request_id: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "error_description": self.description}
        if self.hint:
            out["error_hint"] = self.hint
        return out

    def redirect_params(self) -> dict[str, str]:
        """The error as authorization-response parameters (RFC 6749 section 4.1.2.1)."""
        return {key: str(value) for key, value in self.body().items()}


class InvalidRequest(OAuth2Error):
    status = 400
    error = "invalid_request"
    default_description = "The request is missing a required parameter or is otherwise malformed."


class InvalidClient(OAuth2Error):
    status = 401
    error = "invalid_client"
    default_description = "Client authentication failed."

    def __init__(self, description: str = "", *, hint: str = "", scheme: str = "Basic") -> None:
        super().__init__(
            description,
            hint=hint,
            headers={"WWW-Authenticate": f'{scheme} realm="hydra-lambda", error="invalid_client"'},
        )


class InvalidGrant(OAuth2Error):
    status = 400
    error = "invalid_grant"
    default_description = "The provided authorization grant is invalid, expired or revoked."


class UnauthorizedClient(OAuth2Error):
    status = 400
    error = "unauthorized_client"
    default_description = "The client is not authorized to use this grant or response type."


class UnsupportedGrantType(OAuth2Error):
    status = 400
    error = "unsupported_grant_type"
    default_description = "The authorization grant type is not supported by this server."


class UnsupportedResponseType(OAuth2Error):
    status = 400
    error = "unsupported_response_type"
    default_description = "The response type is not supported for this client."


class InvalidScope(OAuth2Error):
    status = 400
    error = "invalid_scope"
    default_description = "The requested scope is invalid, unknown or not allowed for this client."


class AccessDenied(OAuth2Error):
    status = 403
    error = "access_denied"
    default_description = "The resource owner or authorization server denied the request."


class AuthorizationPending(OAuth2Error):
    """RFC 8628 section 3.5: the user has not finished the device login yet; poll again."""

    status = 400
    error = "authorization_pending"
    default_description = "The user has not yet completed the authorization; poll again after the interval."


class SlowDown(OAuth2Error):
    """RFC 8628 section 3.5: polled faster than the interval; it grows by 5 seconds."""

    status = 400
    error = "slow_down"
    default_description = "The device polls too fast: wait 5 seconds longer between polls."


class ExpiredToken(OAuth2Error):
    """RFC 8628 section 3.5: the device code expired; start a new device authorization."""

    status = 400
    error = "expired_token"
    default_description = "The device code has expired; start a new device authorization."


class LoginRequired(OAuth2Error):
    """OpenID Connect Core 3.1.2.6: ``prompt=none`` but the user must interact (we keep no login
    session of our own: the consent app always does)."""

    status = 400
    error = "login_required"
    default_description = "The user must log in; prompt=none cannot be honoured."


class ConsentRequired(OAuth2Error):
    """OpenID Connect Core 3.1.2.6: ``prompt=none`` with a login session, but consent is needed and
    none is remembered (current login/consent flow)."""

    status = 400
    error = "consent_required"
    default_description = "The user must give consent; prompt=none cannot be honoured."


class FlowRejected(OAuth2Error):
    """A login or consent request the operator's app rejected (current flow): the error it gave
    (``access_denied`` unless it named another), delivered to the client."""

    status = 403

    def __init__(self, error: str, description: str = "", *, hint: str = "") -> None:
        super().__init__(description or "The resource owner or authorization server denied the request.", hint=hint)
        self.error = error or "access_denied"  # type: ignore[misc]


class InvalidToken(OAuth2Error):
    """RFC 6750 section 3.1: a bearer token that is missing, expired, revoked or malformed. When the
    request carried no bearer token at all, the challenge has no error code (section 3.1: "SHOULD NOT
    include an error code or other error information")."""

    status = 401
    error = "invalid_token"
    default_description = "The access token is missing, expired, revoked or malformed."

    def __init__(self, description: str = "", *, token_sent: bool = True) -> None:
        challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
        super().__init__(description, headers={"WWW-Authenticate": challenge})


class InvalidRequestObject(OAuth2Error):
    """OpenID Connect Core 6.1 / RFC 9101 section 6.1: the request object is malformed, unsigned where
    a signature is required, not signed by the client, or its claims do not fit the request."""

    status = 400
    error = "invalid_request_object"
    default_description = "The request object is invalid."


class InvalidRequestUri(OAuth2Error):
    """OpenID Connect Core 6.2 / RFC 9101 section 6.2: the request_uri is not one the client registered,
    or what it points at could not be fetched."""

    status = 400
    error = "invalid_request_uri"
    default_description = "The request_uri is not registered for the client or could not be fetched."


class RequestNotSupported(OAuth2Error):
    """OpenID Connect Core 6.1: a ``request`` object, which this server does not support."""

    status = 400
    error = "request_not_supported"
    default_description = "The request parameter (a request object) is not supported."


class RequestUriNotSupported(OAuth2Error):
    """OpenID Connect Core 6.2: a ``request_uri``, which this server does not support."""

    status = 400
    error = "request_uri_not_supported"
    default_description = "The request_uri parameter is not supported."


class InsufficientScope(OAuth2Error):
    """RFC 6750 section 3.1: the token is valid but lacks the scope the resource needs."""

    status = 403
    error = "insufficient_scope"
    default_description = "The access token does not carry the scope this resource requires."

    def __init__(self, scope: str, description: str = "") -> None:
        challenge = f'Bearer error="insufficient_scope", scope="{scope}"'
        super().__init__(description, headers={"WWW-Authenticate": challenge})


class InvalidClientMetadata(OAuth2Error):
    """RFC 7591 section 3.2.2: a registration's metadata is invalid or not allowed by the policy."""

    status = 400
    error = "invalid_client_metadata"
    default_description = "The value of one of the client metadata fields is invalid or not allowed."


class InvalidRedirectUri(OAuth2Error):
    """RFC 7591 section 3.2.2: a registration's redirect URI is invalid or not allowed."""

    status = 400
    error = "invalid_redirect_uri"
    default_description = "The value of one or more redirection URIs is invalid."


class ServerError(OAuth2Error):
    status = 500
    error = "server_error"


class TemporarilyUnavailable(OAuth2Error):
    status = 503
    error = "temporarily_unavailable"
    default_description = "The server is temporarily unable to handle the request; try again shortly."

    def __init__(self, description: str = "", *, retry_after: int = 1) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


class AdminError(HydraError):
    """The classic Hydra generic error body, used by every non-OAuth endpoint."""

    reason: ClassVar[str] = ""

    def __init__(
        self, message: str = "", *, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message or HTTPStatus(self.status).phrase, headers=headers)
        if reason:
            self.reason = reason  # type: ignore[misc]

    def body(self, request_id: str = "") -> dict[str, Any]:
        inner: dict[str, Any] = {"code": self.status, "status": HTTPStatus(self.status).phrase}
        if request_id:
            inner["request"] = request_id
        if self.reason:
            inner["reason"] = self.reason
        inner["message"] = self.message
        return {"error": inner}


class BadRequest(AdminError):
    status = 400
    reason = "The request could not be understood; check its body and parameters."


class Unauthorized(AdminError):
    status = 401
    reason = "Check that you provided valid credentials in the right format."

    def __init__(self, message: str = "request_unauthorized") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="hydra-lambda"'})


class Forbidden(AdminError):
    status = 403
    reason = "You are not allowed to perform this action."


class NotFound(AdminError):
    status = 404
    reason = "The requested resource could not be found."


class MethodNotAllowed(AdminError):
    status = 405
    reason = "The method is not allowed on this resource."

    def __init__(self, allowed: list[str]) -> None:
        super().__init__("Method not allowed", headers={"Allow": ", ".join(sorted(allowed))})


class Conflict(AdminError):
    status = 409
    reason = "The resource already exists or was changed concurrently."


class Gone(AdminError):
    status = 410
    reason = "The resource has expired."


class PayloadTooLarge(AdminError):
    status = 413
    reason = "The request body is larger than this server accepts."


class ServiceUnavailable(AdminError):
    status = 503
    reason = "A dependency is temporarily unavailable; try again shortly."

    def __init__(self, message: str = "Service temporarily unavailable", retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class FlowAdminError(HydraError):
    """Ory Hydra's ``errorOAuth2`` body, answered on ``/admin/oauth2/auth/...`` (the current flow's
    admin routes), as Ory's generated SDKs parse it: ``error``, ``error_description``, ``status_code``."""

    NAMES: ClassVar[dict[int, str]] = {400: "invalid_request", 401: "request_unauthorized", 403: "request_forbidden",
                                       404: "not_found", 405: "method_not_allowed", 409: "conflict",
                                       410: "request_expired", 413: "request_too_large", 503: "temporarily_unavailable"}

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers=headers)
        self.status = status  # type: ignore[misc]

    @classmethod
    def of(cls, error: HydraError) -> FlowAdminError:
        if isinstance(error, FlowAdminError):
            return error
        return cls(error.status, error.message, headers=error.headers)

    def body(self, request_id: str = "") -> dict[str, Any]:
        return {"error": self.NAMES.get(self.status, "error" if self.status < 500 else "server_error"),
                "error_description": self.message, "status_code": self.status}


class Handled(HydraError):
    """A login or consent request already handled (Hydra's 410 with ``{redirect_to}``): where the
    browser goes next."""

    status = 410

    def __init__(self, redirect_to: str) -> None:
        super().__init__("The request was already handled.")
        self.redirect_to = redirect_to

    def body(self, request_id: str = "") -> dict[str, Any]:
        return {"redirect_to": self.redirect_to}
