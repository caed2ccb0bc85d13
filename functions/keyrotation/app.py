"""Scheduled ID-token key rotation (EventBridge, template parameter KeyRotationSchedule): one
publish/switch/retire step per run, see hydra_lambda.keys.rotation.scheduled_step."""

from typing import Any

from aws_lambda_powertools import Logger
from hydra_lambda.keys.rotation import scheduled_step

logger = Logger(service="hydra-lambda")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    result = scheduled_step(event["alias"], event.get("key_spec", "RSA_2048"), event.get("stack", ""))
    logger.info("signing keys rotated", extra=result)
    return result
