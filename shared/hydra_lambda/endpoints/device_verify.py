"""``GET /oauth2/device/verify`` (RFC 8628 section 3.3, Ory Hydra's path): the browser's legs of the
device flow (``authorization.device_legs``); the edge (``http.device``) parses the visit and renders
the outcome."""

from __future__ import annotations

from hydra_lambda.authorization import device_legs
from hydra_lambda.authorization.device_legs import DeviceCall, DeviceOutcome


def serve(call: DeviceCall) -> DeviceOutcome:
    return device_legs.serve(call)
