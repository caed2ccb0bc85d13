"""The one Logger and the one Metrics of a container (powertools; JSON logs, CloudWatch EMF metrics)."""

from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from hydra_lambda.redaction import REDACTED, redact

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HydraLambda",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda",
)
_SENSITIVE = re.compile(r"secret|token|password|verifier|authorization|cookie|^code$|csrf", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    """Blank any ``extra`` field whose name says it holds a credential, and every secret-bearing
    ``name=value`` (``redaction.SECRET_PARAMETERS``) in the message and in string fields, however it
    got there: the code never logs one on purpose, and this keeps a future log line from doing it."""

    _standard = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = redact(record.getMessage()), None
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        for key, value in list(record.__dict__.items()):
            if key in self._standard or not value:
                continue
            if _SENSITIVE.search(key):
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, redact(value))
        return True


logger.addFilter(RedactSecrets())

_tracer: Any = None


def tracing_enabled() -> bool:
    """X-Ray tracing through powertools Tracer: on Lambda only (elsewhere there is no daemon), unless
    POWERTOOLS_TRACE_DISABLED is set. Off the Lambda path no Tracer is made, so local runs and the
    benchmarks never import aws_xray_sdk (powertools loads it when a Tracer is made)."""
    disabled = (os.environ.get("POWERTOOLS_TRACE_DISABLED") or "").lower() in {"1", "true"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


def tracer() -> Any:
    global _tracer
    if _tracer is None:
        # botocore only: every AWS call (DynamoDB through pynamodb, KMS, Secrets Manager) becomes a
        # subsegment in the `aws` namespace, so the service map shows them; patch_all would also
        # import and wrap http.client, requests, sqlite3... for nothing.
        _tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda",
                         patch_modules=("botocore",))
    return _tracer


# An invocation that counted nothing is normal here, not worth a warning per container.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int = 1) -> None:
    """Add to a counter metric, published when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
