"""The one Logger and the one Metrics of a container (powertools; JSON logs, CloudWatch EMF metrics)."""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HydraLambda",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hydra-lambda",
)
# An invocation that counted nothing is normal here, not worth a warning per container.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int = 1) -> None:
    """Add to a counter metric, published when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
