"""``hydra-lambda token device`` (alias ``perform device-code``, as Ory's ``hydra perform device-code``):
the device authorization grant (RFC 8628) from a terminal. It asks ``/oauth2/device/auth`` for a device
code, prints the verification URI and the user code (stderr), polls ``/oauth2/token`` every interval
(5 s more after ``slow_down``) and prints the tokens (stdout, JSON). A public client sends only its
``client_id``; a confidential one authenticates with HTTP Basic."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from hydra_lambda_local.api import TIMEOUT, CliError, Credentials, error_message, no_redirects, unreachable

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _post(credentials: Credentials, path: str, form: dict[str, str]) -> requests.Response:
    """A form POST as the client: HTTP Basic with a secret, else ``client_id`` in the form."""
    auth = None
    if credentials.client_secret:
        auth = (quote(credentials.client_id, safe=""), quote(credentials.client_secret, safe=""))
    else:
        form = {**form, "client_id": credentials.client_id}
    with no_redirects(requests.Session()) as session:
        try:
            return session.post(credentials.endpoint + path, data=form, auth=auth, timeout=TIMEOUT,
                                headers={"Accept": "application/json"}, allow_redirects=False)
        except requests.RequestException as exc:
            raise unreachable(credentials.endpoint, exc) from None


def _json(response: requests.Response, path: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise CliError(f"POST {path}: {error_message(response)}") from None
    if not isinstance(data, dict):
        raise CliError(f"POST {path}: the answer is not a JSON object")
    return data


def run(credentials: Credentials, *, scope: str, timeout: float,
        sleep: Callable[[float], None] = time.sleep) -> int:
    if not credentials.client_id:
        raise CliError("set --client-id (or HYDRA_CLIENT_ID): the client allowed the device code grant", 2)
    answer = _post(credentials, "/oauth2/device/auth", {"scope": scope})
    if answer.status_code != 200:
        raise CliError(f"POST /oauth2/device/auth: {error_message(answer)}")
    started = _json(answer, "/oauth2/device/auth")
    print(f"On another device, open {started.get('verification_uri')} and enter the code: {started.get('user_code')}",
          file=sys.stderr)
    print(f"  (or open {started.get('verification_uri_complete')})", file=sys.stderr, flush=True)
    interval = float(started.get("interval") or 5)
    deadline = time.monotonic() + min(timeout, float(started.get("expires_in") or timeout))
    while time.monotonic() < deadline:
        sleep(interval)
        polled = _post(credentials, "/oauth2/token", {"grant_type": DEVICE_GRANT,
                                                      "device_code": str(started.get("device_code", ""))})
        if polled.status_code == 200:
            print(json.dumps(_json(polled, "/oauth2/token"), indent=2, sort_keys=True))
            return 0
        error = _json(polled, "/oauth2/token").get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise CliError(f"POST /oauth2/token: {error_message(polled)}")
    raise CliError("the device login was not completed in time; run the command again")
