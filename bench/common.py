"""What every part of the benchmark shares: paths, sizes, the environment handed to workers, and the
result rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TEMPLATE = ROOT / "template.yaml"
NODE_DIR = BENCH / "node"

ROOT_CLIENT_ID = "bench-root"
ROOT_CLIENT_SECRET = "bench-root-secret-0123456789abcdef"
PEER_CLIENT_ID = "bench-peer-client"
PEER_CLIENT_SECRET = "bench-peer-secret-0123456789abcdef"
TABLE_PREFIX = "bench-"
PEER_TABLE = "bench-oidc-provider"  # node-oidc-provider's own table on the same DynamoDB Local


@dataclass(frozen=True)
class Sizes:
    """How many requests each item makes: ``full`` for ``make bench``, ``smoke`` for the CI check."""

    warm_requests: int = 1000  # per operation, in process (CPU time, AWS request counts)
    flow_requests: int = 300  # code exchange and refresh (each needs a full browser flow to set up)
    warmup: int = 50
    cold_runs: int = 5  # fresh processes per function and per floor (the median is reported)
    memory_requests: int = 20_000
    peer_requests: int = 5000  # node-oidc-provider CPU counters
    token_pool: int = 200  # distinct tokens introspected round robin (both servers)
    load_seconds: float = 10.0
    load_concurrency: int = 8
    list_clients: int = 25  # clients in the table when GET /clients is measured
    cold_functions: tuple[str, ...] = ()  # empty: every function of template.yaml
    envelope: bool = True  # also measure the code exchange in envelope signing mode

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(warm_requests=5, flow_requests=2, warmup=2, cold_runs=1, memory_requests=200,
                   peer_requests=50, token_pool=3, load_seconds=0.5, load_concurrency=2, list_clients=3,
                   cold_functions=("OAuth2Function",), envelope=False)


@dataclass
class Row:
    """One line of the table. ``status`` is pass, FAIL, info or not available."""

    section: str
    item: str
    figure: str
    budget: str = ""
    status: str = "info"
    value: float | None = None  # the figure as a number (unit in ``unit``), for results.json
    unit: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def not_available(section: str, item: str, reason: str, budget: str = "") -> Row:
    return Row(section, item, "not available", budget, "not available", detail={"reason": reason})


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def base_env(dynamodb: str, kms: str, issuer: str = "http://127.0.0.1:4444") -> dict[str, str]:
    """The environment of every handler process the benchmark starts."""
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SYSTEM_SECRET": "bench-system-secret-0123456789abcdef",
        "ISSUER": issuer,
        # Not the example consent app's default, so `hydra-lambda serve` does not start it: the
        # benchmark answers consent requests itself through the admin API.
        "CONSENT_URL": "http://127.0.0.1:9/bench-consent",
        "FORCE_ROOT_CLIENT_CREDENTIALS": f"{ROOT_CLIENT_ID}:{ROOT_CLIENT_SECRET}",
        "DYNAMODB_ENDPOINT": dynamodb,
        "KMS_ENDPOINT": kms,
        "SECRETSMANAGER_ENDPOINT": kms,
        "CLIENTS_TABLE": f"{TABLE_PREFIX}clients",
        "TOKENS_TABLE": f"{TABLE_PREFIX}tokens",
        "CONSENT_TABLE": f"{TABLE_PREFIX}consent",
        "POLICIES_TABLE": f"{TABLE_PREFIX}policies",
        # As deployed (template.yaml LogLevel default), so logging costs what it costs on AWS.
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "hydra-lambda",
        "POWERTOOLS_METRICS_NAMESPACE": "HydraLambdaBench",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return env


RUNTIME_VENV = ROOT / ".venv-runtime"


def runtime_python() -> tuple[list[str], dict[str, str]] | None:
    """The runtime-only environment of Lambda's Python (``make .venv-runtime/.installed``: Python 3.12
    with the layer's lock alone, as Lambda has them, and PyYAML for the harness's route table; none of
    the test tools, so e.g. no blinker, which turns pynamodb's signals on): its interpreter and the
    variables that put the layer, the local harness and ``bench`` on its path. None when not built."""
    python = RUNTIME_VENV / "bin" / "python"
    if not python.exists():
        return None
    path = os.pathsep.join(str(p) for p in (ROOT, ROOT / "shared", ROOT / "local"))
    return [str(python)], {"PYTHONPATH": path}


def run_python(module_args: list[str], env: dict[str, str], spec: dict[str, Any], timeout: float,
               stdout: Any = subprocess.DEVNULL, python: list[str] | None = None) -> dict[str, Any]:
    """Run ``python -m <module>`` with ``spec`` (JSON) and read the JSON it writes to BENCH_OUT
    (``python``: another interpreter than this one, e.g. ``runtime_python()``'s)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        out_path = Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [*(python or [sys.executable]), *module_args, str(spec_path), str(out_path)],
            cwd=ROOT, env={**os.environ, **env}, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
            text=True, check=False,
        )
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{' '.join(module_args)} failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out_path.read_text())
