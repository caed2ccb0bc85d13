"""SnapStart: what a function does before Lambda snapshots its initialised process, and after every
restore of that snapshot (template.yaml turns SnapStart on for the published versions of the functions
that serve requests; each of their app.py calls ``enable()`` once).

Before the snapshot (``prime``): every module of the layer is imported (the lazy, function-local
imports included), the settings read, the one botocore session and the SDK clients made, and each SDK
operation the layer calls run once against botocore's public ``Stubber`` (endpoint rules, request
serialisation, the service model's shapes, pynamodb's and our own request building); then one request
per protocol goes through the whole HTTP stack to a one-shot server on a loopback socket of this very
process (``aws.prime_http``: signing, urllib3, http.client, response parsing). So none of it waits for
the first request after a restore. No request leaves the process, no connection stays open, no secret
is read, no key is decrypted: what the snapshot holds is the same for every container.

Measured (bench, simulated restore, OAuth2Function's client_credentials token, median of 7): the
first request after a restore took 39.8 ms of CPU unprimed, 24.0 ms with the Stubber priming and
18.6 ms with the HTTP stack primed too, of which ~10 ms are the page faults of the restored memory.

After a restore (``after_restore``): what was random at init is made again, per restored process
(``random``'s seed, and each module's own values: ``cache.on_restore``), and every per-container cache is
emptied, since a snapshot is shared by every container restored from it.

The hooks are registered with ``snapshot_restore_py``, which only the Lambda Python runtime has;
elsewhere (tests, the local server, the benchmark) registering does nothing, ``registered()`` shows
what ``enable`` registered, and the hooks run only when called.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable
from typing import Any

try:  # the Lambda Python runtime's library (not a dependency of this project: the runtime has it)
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # anywhere else: kept here, run by nothing but tests and the benchmark

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func


_registered: dict[str, list[Callable[[], None]]] = {"before_snapshot": [], "after_restore": []}
_enabled = False


def enable() -> None:
    """Register the two hooks with the runtime (once per process, from a function's app.py)."""
    global _enabled
    if _enabled:
        return
    _enabled = True
    register_before_snapshot(prime)
    register_after_restore(after_restore)
    _registered["before_snapshot"].append(prime)
    _registered["after_restore"].append(after_restore)


def registered() -> dict[str, list[Callable[[], None]]]:
    """The hooks ``enable`` registered in this process."""
    return {when: list(hooks) for when, hooks in _registered.items()}


def import_everything() -> list[str]:
    """Import every module of the layer (what any route of any function may import lazily)."""
    import hydra_lambda

    names = []
    for module in pkgutil.walk_packages(hydra_lambda.__path__, prefix="hydra_lambda."):
        importlib.import_module(module.name)
        names.append(module.name)
    return names


def prime() -> None:
    """Before the snapshot: imports, settings, powertools' objects, the SDK clients and their
    operations (nothing sent), the hot token paths (nothing sent either)."""
    import_everything()
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: F401 (system_secret's lazy import)

    from hydra_lambda import aws, observability, system_secret
    from hydra_lambda.config import get_settings
    from hydra_lambda.storage import tables

    get_settings()
    if observability.tracing_enabled():
        observability.tracer()
    tables.prime()
    aws.prime()
    aws.prime_http()
    system_secret.secrets_provider()  # the provider object only: the secret is read at first use
    _prime_token_rows()


def _prime_token_rows() -> None:
    """The token endpoint's write and introspection's read of a token row, answered by botocore's
    Stubber: our row building and parsing, pynamodb's condition and key maps, botocore's request."""
    from botocore.stub import Stubber

    from hydra_lambda.storage import tables, token_rows
    from hydra_lambda.tokens.model import Token

    token = Token(signature="0000000000snapstart-prime", kind="access", request_id="", client_id="prime",
                  expires_at=1)
    with Stubber(tables.connection().client) as stub:
        stub.add_response("put_item", {})
        token_rows.put(token)
        stub.add_response("get_item", {"Item": token_rows.row_item(token)})
        token_rows.get(token.signature, "access")  # expired: None, after parsing the row
        stub.assert_no_pending_responses()


def after_restore() -> None:
    """After a restore: new randomness for this process, empty caches."""
    random.seed()  # from os.urandom: restored processes must not replay the snapshot's sequence
    from hydra_lambda import cache
    from hydra_lambda.storage import policies

    cache.restored()
    policies.invalidate()
