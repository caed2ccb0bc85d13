"""bench.cpus: while a CPU-time item runs, the measured process has a CPU to itself; after, all is as before."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench import cpus

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only")


def test_the_measured_process_is_alone_on_its_cpu_and_everything_is_restored_after() -> None:
    before = os.sched_getaffinity(0)
    measured = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with cpus.isolated([other.pid], measured=(measured.pid,)) as cpu:
            if len(before) < 2:
                assert cpu is None
                assert os.sched_getaffinity(measured.pid) == before
            else:
                assert cpu is not None
                assert os.sched_getaffinity(measured.pid) == {cpu}
                assert os.sched_getaffinity(0) == before - {cpu}
                assert os.sched_getaffinity(other.pid) == before - {cpu}
        assert os.sched_getaffinity(0) == before
        assert os.sched_getaffinity(measured.pid) == before
        assert os.sched_getaffinity(other.pid) == before
    finally:
        for proc in (measured, other):
            proc.kill()
            proc.wait()
