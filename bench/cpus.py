"""CPU placement for the CPU-time items (warm CPU per request, ours and node-oidc-provider's).

While one is measured, the measured process runs alone on one CPU and everything it talks to
(DynamoDB Local, moto, the benchmark's own process and load generator) on the others. Otherwise the
scheduler moves the measured process between CPUs at each wait for DynamoDB or the next request,
and it resumes with cold caches on a CPU the engine just used: in place, introspection measured
0.22 ms that way against 0.17 ms isolated, from one run to the next ±15%. On Lambda the function has
its vCPU to itself and DynamoDB runs elsewhere, so isolation is the closer picture. Both sides get it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` onto ``cpus`` (threads it starts later inherit)."""
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:  # a thread that just ended
            pass


@contextmanager
def isolated(others: list[int], measured: tuple[int, ...] = ()) -> Iterator[int | None]:
    """Yield the CPU kept for the measured process (None with fewer than two CPUs, or off Linux: then
    nothing moves). Meanwhile the ``measured`` processes run on it, and this process and ``others`` on
    the remaining CPUs; a measured process started inside pins itself to the CPU yielded. Everything is
    unpinned after."""
    cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()  # Linux only
    if len(cpus) < 2:
        yield None
        return
    kept = min(cpus)
    for pid in [os.getpid(), *others]:
        pin(pid, cpus - {kept})
    for pid in measured:
        pin(pid, {kept})
    try:
        yield kept
    finally:
        for pid in [os.getpid(), *others, *measured]:
            pin(pid, cpus)
