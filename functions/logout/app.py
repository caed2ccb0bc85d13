"""Logout function: the consumer of the back-channel logout queue (SQS event source with
ReportBatchItemFailures). Each message is one delivery (``backchannel.deliver``: sign a logout token,
POST it with a deadline); the failed ones are reported, so SQS delivers them again after the
visibility timeout and, after the redrive policy's maxReceiveCount, moves them to the dead-letter
queue (an alarm says one arrived)."""

from typing import Any

from hydra_lambda import backchannel
from hydra_lambda.config import read_at_init
from hydra_lambda.observability import logger, tracer, tracing_enabled

read_at_init()  # a bad setting fails the init with its message, as lambda_entry does for the others


@logger.inject_lambda_context(clear_state=True)
def _consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failed = backchannel.consume(list(event.get("Records") or []))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


lambda_handler = tracer().capture_lambda_handler(_consume) if tracing_enabled() else _consume
