"""The example logout app honours ``skip_logout_consent`` as Ory's own logout UI does: an
RP-initiated logout (``rp_initiated``, an id_token_hint) of such a client is accepted at once; any
other logout still asks."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hydra_lambda_local import consent_app

from tests.unit.test_consent_app import FakeAdmin, admin, app, browser, verifier_url  # noqa: F401 (fixtures)

TRUSTED = {"client_id": "first-party", "client_name": "First", "skip_logout_consent": True}


def test_a_trusted_clients_rp_initiated_logout_is_accepted_without_asking(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session  # noqa: F811
) -> None:
    admin.add_flow("logout", "S1", client=TRUSTED, rp_initiated=True)
    answer = browser.get(f"{app.url}/logout", params={"logout_challenge": "S1"}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == verifier_url("logout", "S1")
    assert admin.puts == [("logout", "accept", "S1", None)]


@pytest.mark.parametrize("fields", [
    {"client": TRUSTED, "rp_initiated": False},  # not asked by the client (no id_token_hint)
    {"client": {**TRUSTED, "skip_logout_consent": False}, "rp_initiated": True},
    {"client": None, "rp_initiated": False},
], ids=["not-rp-initiated", "flag-off", "no-client"])
def test_any_other_logout_still_asks(admin: FakeAdmin, app: consent_app.ConsentApp,  # noqa: F811
                                     browser: requests.Session, fields: dict[str, Any]) -> None:  # noqa: F811
    admin.add_flow("logout", "S2", **fields)
    page = browser.get(f"{app.url}/logout", params={"logout_challenge": "S2"}, allow_redirects=False)
    assert page.status_code == 200 and "Yes, sign me out" in page.text
    assert admin.puts == []
