"""Scheduled ID-token key rotation (EventBridge, template parameter KeyRotationSchedule): one
publish/switch/retire step per run, see hydra_lambda.keys.rotation.scheduled_step, under the same
lease as POST /keys/hydra.openid.id-token (``locked_step``: a run that finds it held fails, and Lambda
retries the asynchronous invocation). A key the step
retires is disabled and scheduled for deletion after ``deletion_window_days`` (RetiredKeyDeletionDays).
A run within the minimum interval of the last step (``rotation.minimum_interval``: a schedule faster
than that) fails with RotationTooSoon and rotates nothing; an event with ``"force": true`` (invoked by
hand for a compromised key) skips that check."""

from typing import Any

from hydra_lambda.config import read_at_init
from hydra_lambda.keys.rotation import locked_step
from hydra_lambda.observability import logger, tracer, tracing_enabled

read_at_init()  # a bad setting fails the init with its message, as lambda_entry does for the others


@logger.inject_lambda_context(clear_state=True)
def _rotate(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    window = event.get("deletion_window_days")
    result = locked_step(event["alias"], event.get("key_spec", "RSA_2048"), event.get("stack", ""),
                         int(window) if window is not None else None, force=event.get("force") is True)
    logger.info("signing keys rotated", extra=result)
    return result


# Traced on Lambda like the API functions (KMS calls as `aws` subsegments through the botocore patch).
lambda_handler = tracer().capture_lambda_handler(_rotate) if tracing_enabled() else _rotate
