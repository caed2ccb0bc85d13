"""The one Logger and the one Metrics of a container (powertools; JSON logs, CloudWatch EMF metrics)."""

from __future__ import annotations

import logging
import os
import re
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HydraLambda",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda",
)
_SENSITIVE = re.compile(r"secret|token|password|verifier|authorization|cookie|^code$|csrf", re.IGNORECASE)
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Blank any ``extra`` field whose name says it holds a credential, however it got there: the
    code never logs one on purpose, and this keeps a future ``extra={...}`` from doing it by accident."""

    _standard = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in list(record.__dict__.items()):
            if key not in self._standard and value and _SENSITIVE.search(key):
                setattr(record, key, REDACTED)
        return True


logger.addFilter(RedactSecrets())

# An invocation that counted nothing is normal here, not worth a warning per container.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int = 1) -> None:
    """Add to a counter metric, published when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
