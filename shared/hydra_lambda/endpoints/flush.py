"""``POST /oauth2/flush`` (admin, guarded by the warden: scope ``hydra.oauth2.flush``, action
``flush`` on ``rn:hydra:oauth2:tokens``) and the EventBridge schedule: the same flush
(``hydra_lambda.flush``), within what each may wait for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hydra_lambda import flush, warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.observability import metrics


def serve(caller: Credentials, body: Callable[[], dict[str, Any]], context: Any) -> dict[str, Any]:
    """The warden first (before the body is read), then the optional ``{"notAfter": ...}`` body, then
    the flush (within what API Gateway waits for); what it removed, by kind, and whether it finished."""
    warden.require_access(caller, scope="hydra.oauth2.flush", resource="oauth2:tokens", action="flush")
    # pydantic (the body's model) only on this route: the schedule never reads a body
    # (tests/test_perf_coldstart.py watches which routes load pydantic).
    from hydra_lambda.models.flush import flush_cutoff

    result = flush.flush(flush_cutoff(body()), flush.deadline_from(context, flush.HTTP_BUDGET_SECONDS))
    return {"removed": result.removed, "complete": result.complete}


def scheduled(context: Any) -> dict[str, Any]:
    """The EventBridge schedule: flush everything expired until the function's deadline nears."""
    result = flush.flush(None, flush.deadline_from(context))
    metrics.flush_metrics()
    return {"complete": result.complete, "removed": result.removed, "cutoff": result.cutoff}
