"""``PUT /admin/oauth2/auth/requests/device/accept?device_challenge=`` (Ory Hydra's
``acceptUserCodeRequest``): the device page sends the user code the user entered; the answer is
``{redirect_to}``, where the browser goes on (``/oauth2/device/verify`` with the device verifier).
Guarded by the warden (scope ``hydra.consent``, resource
``rn:hydra:oauth2:auth:requests:device:<challenge>``, action accept), first."""

from __future__ import annotations

from typing import Any

from hydra_lambda import warden
from hydra_lambda.authorization import device
from hydra_lambda.authorization.outcomes import with_query
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest
from hydra_lambda.models.device import AcceptDeviceUserCodeRequest
from hydra_lambda.models.flow_answers import RedirectTo

SCOPE = "hydra.consent"
VERIFY_PATH = "/oauth2/device/verify"


def accept(caller: Credentials, challenge: str, body: dict[str, Any]) -> dict[str, Any]:
    warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:requests:device:{challenge}", action="accept")
    answer = AcceptDeviceUserCodeRequest.of(body)
    if answer is None or not answer.user_code.strip():
        raise BadRequest("user_code is required: the code the user entered.")
    verifier = device.accept_user_code(challenge, answer.user_code)
    location = with_query(get_settings().url(VERIFY_PATH), {"device_challenge": challenge, "device_verifier": verifier})
    return RedirectTo(location).body()
