"""``DELETE /admin/oauth2/auth/sessions/login?subject=`` or ``?sid=``: end login sessions (Ory Hydra's
revokeOAuth2LoginSessions), guarded by the warden (scope ``hydra.consent``, resource
``rn:hydra:oauth2:auth:sessions:login:<subject or sid>``, action delete). Each session ends as a logout
does (``logout.end_session``): deleted, its grants' tokens revoked (but offline_access grants), and its
clients' back-channel logout queued; unlike Hydra, also when sessions are named by subject."""

from __future__ import annotations

from hydra_lambda import logout, warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest

SCOPE = "hydra.consent"
MAX_NAME = 255


def delete(caller: Credentials, subject: str, sid: str) -> None:
    if bool(subject) == bool(sid):
        raise BadRequest("Name the login sessions to end with exactly one of the query parameters subject or sid.")
    name = subject or sid
    if len(name) > MAX_NAME:
        raise BadRequest(f"subject and sid are at most {MAX_NAME} characters.")
    warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:sessions:login:{name}", action="delete")
    if subject:
        logout.end_sessions_of(subject)
    else:
        logout.end_session_by_sid(sid)
