"""``POST /oauth2/device/auth`` (RFC 8628 section 3.1): the device authorization request. The client
authenticates as at the token endpoint (a public client sends its ``client_id``), must be allowed the
device code grant and the scopes it asks; the answer is ``deviceAuthorization``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hydra_lambda import scopes
from hydra_lambda.authorization import device
from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.clients.model import DEVICE_CODE_GRANT
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidRequest, InvalidScope, UnauthorizedClient
from hydra_lambda.models.device import DeviceAuthorization

PATH = "/oauth2/device/auth"
VERIFY_PATH = "/oauth2/device/verify"


def serve(caller: Credentials, form: dict[str, str]) -> dict[str, Any]:
    settings = get_settings()
    if not settings.device_flow:
        raise InvalidRequest("The device authorization grant is not enabled on this server (URLS_DEVICE_VERIFICATION "
                             "and the current login/consent flow).")
    client = authenticate_client(caller, form, endpoint=PATH)
    if not client.has_grant_type(DEVICE_CODE_GRANT):
        raise UnauthorizedClient(f"The client is not allowed to use the grant type '{DEVICE_CODE_GRANT}'.")
    asked = scopes.parse_scope(form.get("scope"))
    if not client.allows_scopes(asked):
        raise InvalidScope("The client is not allowed to request one of these scopes.")
    started = device.start(client, asked)
    verification_uri = settings.url(VERIFY_PATH)
    return DeviceAuthorization(
        device_code=started.device_code,
        user_code=started.user_code,
        verification_uri=verification_uri,
        verification_uri_complete=f"{verification_uri}?{urlencode({'user_code': started.user_code})}",
        expires_in=started.expires_in,
        interval=started.interval,
    ).body()
