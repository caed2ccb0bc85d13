"""In-process invocation of the real handlers with real API Gateway payload-2.0 events (as the
harness's ``call`` does, ``hydra_lambda_local.harness``), split in two so the benchmark can build events
outside the timed part."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hydra_lambda_local.harness import Result, to_result

from bench.common import TEMPLATE

__all__ = ["Api", "Prepared", "Result", "Unavailable", "basic", "bearer", "to_result"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Unavailable(Exception):
    """The operation is not implemented (yet): its route is missing or answers an error."""


@dataclass
class Prepared:
    """One request ready to run: the handler the template routes it to, and its event."""

    function: str
    handler: Handler
    event: dict[str, Any]


class Api:
    def __init__(self) -> None:
        from hydra_lambda_local.routes import load_routes

        self.routes = load_routes(TEMPLATE)

    def prepare(self, method: str, path: str, *, query: str | dict[str, str] = "",
                headers: dict[str, str] | None = None, form: dict[str, str] | None = None,
                json_body: Any = None, cookies: list[str] | None = None) -> Prepared:
        from hydra_lambda_local.routes import load_handler, routed_event

        found = routed_event(self.routes, method, path, query=query, headers=headers, form=form,
                             json_body=json_body, cookies=cookies)
        if found is None:
            raise Unavailable(f"template.yaml routes nothing to {method} {path}")
        route, event = found
        return Prepared(route.function, load_handler(route), event)

    @staticmethod
    def run(prepared: Prepared) -> Result:
        from hydra_lambda_local.events import FakeContext

        out = prepared.handler(prepared.event, FakeContext(prepared.function))
        return to_result(out)

    def call(self, method: str, path: str, **kwargs: Any) -> Result:
        return self.run(self.prepare(method, path, **kwargs))

    def expect(self, status: int | tuple[int, ...], method: str, path: str, **kwargs: Any) -> Result:
        """Call, and raise Unavailable unless the status is the expected one."""
        result = self.call(method, path, **kwargs)
        wanted = (status,) if isinstance(status, int) else status
        if result.status not in wanted:
            raise Unavailable(f"{method} {path} answered {result.status}: {result.body[:200]}")
        return result


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
