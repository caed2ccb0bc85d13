"""Secret-bearing parameters blanked out of any text that may reach a log (access-log lines with
query strings, messages, tracebacks). No dependency, so the local servers and the example consent
app use it too."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
SECRET_PARAMETERS = (
    "code", "consent_csrf", "consent_verifier", "access_token", "refresh_token", "client_secret",
    "code_verifier", "id_token", "id_token_hint", "token", "password", "assertion", "client_assertion",
    # the current flow's verifiers (each finishes a step of a login, consent or logout) and RFC 8628's codes
    "login_verifier", "logout_verifier", "device_verifier", "device_code", "user_code",
)
# name=value in a query string or form, also percent-encoded inside another parameter (%3D, %26).
_IN_TEXT = re.compile(
    r"(?:(?<=%3[Ff])|(?<=%26)|(?<![A-Za-z0-9_.-]))(" + "|".join(SECRET_PARAMETERS) + r")(=|%3[Dd])"
    r"(?:[^&\s\"'#;%<>]|%(?!26|3[Dd])[0-9A-Fa-f]{2})*"
)


def redact(text: str) -> str:
    """``text`` with the value of every secret-bearing ``name=value`` replaced by ``[redacted]``."""
    if "=" not in text and "%3" not in text:
        return text
    return _IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
