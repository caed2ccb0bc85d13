"""hydra-lambda's benchmark suite (``python -m bench``; see bench/README.md).

A benchmark, not a test: it prints figures beside their budgets and writes ``bench/results.json``.
Nothing here asserts a time; ``tests/integration/test_bench_smoke.py`` only checks that a tiny run is well formed.
"""
