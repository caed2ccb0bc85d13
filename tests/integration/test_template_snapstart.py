"""SnapStart on the functions that serve requests (template.yaml), and the priming it snapshots
(shared/hydra_lambda/snapstart.py): nothing leaves the process while priming, and the clients it made
serve real requests afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hydra_lambda import snapstart
from hydra_lambda.config import get_settings
from hydra_lambda.storage import tables, token_rows
from hydra_lambda.tokens.model import Token

from tests.integration.test_template import translate
from tests.support import CLIENT_HOOKS

SERVING = {"AdminFunction", "ClientsFunction", "ConsentFunction", "DiscoveryFunction", "FlushFunction",
           "OAuth2Function"}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate()


def test_snapstart_is_on_for_the_published_versions_of_every_serving_function(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    snapped = {name for name, r in functions.items()
               if r["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}}
    assert snapped == SERVING
    for name in SERVING:  # a snapshot is made of a published version: the alias the routes invoke
        alias = resources[f"{name}Aliaslive"]
        assert alias["Type"] == "AWS::Lambda::Alias"
        assert alias["Properties"]["FunctionName"] == {"Ref": name}
    routes = json.dumps(resources["HttpApi"]["Properties"]["Body"])  # the integrations invoke the alias
    for name in SERVING:
        assert f"{name}Aliaslive" in routes


def test_priming_sends_nothing_and_leaves_clients_that_work() -> None:
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.url)

    with CLIENT_HOOKS.hooked("", "before-send", record):
        snapstart.prime()
    # Only aws.prime_http's two requests, to its one-shot server on a loopback socket of this process;
    # nothing reached DynamoDB or KMS.
    settings = get_settings()
    assert len(sent) == 2, sent
    for url in sent:
        assert url.startswith("http://127.0.0.1:"), url
        assert not url.startswith((settings.dynamodb_endpoint, settings.kms_endpoint)), url
    # The Stubber is gone: the same DynamoDB client reaches DynamoDB Local again.
    token = Token(signature="0000000009" + "p" * 40, kind="access", request_id="", client_id="c",
                  expires_at=9_999_999_999, issued_at=1)
    token_rows.put(token)
    assert token_rows.get(token.signature, "access") == token
    token_rows.delete(token.signature, "access")
    assert tables.connection().client in CLIENT_HOOKS.of("dynamodb")
