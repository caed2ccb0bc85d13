"""The device code grant (RFC 8628 section 3.4): the device polls with its ``device_code`` until the
user has finished on another device (``authorization.device.poll``)."""

from __future__ import annotations

from hydra_lambda.authorization import device
from hydra_lambda.clients.model import DEVICE_CODE_GRANT, Client
from hydra_lambda.errors import InvalidRequest
from hydra_lambda.tokens.issuer import TokenResponse

GRANT_TYPE = DEVICE_CODE_GRANT


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    value = form.get("device_code", "")
    if not value:
        raise InvalidRequest("The device_code parameter is missing.")
    return device.poll(client, value)
