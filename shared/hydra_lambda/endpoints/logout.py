"""``/oauth2/sessions/logout`` (GET and POST): RP-initiated logout, and the browser's return with the
logout verifier (``logout.py`` says who may ask for what; ``http/logout.py`` parses and renders)."""

from __future__ import annotations

from hydra_lambda import logout
from hydra_lambda.logout import CHALLENGE_PARAM, VERIFIER_PARAM, LogoutCall, Outcome


def serve(call: LogoutCall) -> Outcome:
    if call.params.get(CHALLENGE_PARAM) and call.params.get(VERIFIER_PARAM):
        return logout.come_back(call)
    return logout.start(call)
