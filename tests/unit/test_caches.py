"""Every per-container cache is a ``cache.TimedCache`` in the one registry, so ``clear_all`` (a SnapStart
restore, a test) forgets them all at once."""

from __future__ import annotations

import importlib

import pytest
from hydra_lambda import cache

# module -> attribute holding its per-container cache
CACHES = {
    "hydra_lambda.clients.registry": "_auth_cache",
    "hydra_lambda.tokens.lookup": "_callers",
    "hydra_lambda.tokens.opaque": "_keyed",
    "hydra_lambda.system_secret": "_derived",
    "hydra_lambda.passwords": "_known",
    "hydra_lambda.aws": "_clients",
    "hydra_lambda.keys": "_loaded",
    "hydra_lambda.storage.policies": "_cache",
    "hydra_lambda.warden": "_memo",
}


@pytest.mark.parametrize("module, attribute", sorted(CACHES.items()))
def test_each_cache_is_registered_and_cleared_by_clear_all(module: str, attribute: str) -> None:
    found = getattr(importlib.import_module(module), attribute)
    assert isinstance(found, cache.TimedCache)
    assert found in cache._registry
    found.put(("probe", module), object())  # type: ignore[arg-type]
    assert ("probe", module) in found
    cache.clear_all()
    assert len(found) == 0


def test_the_names_are_distinct() -> None:
    for module in CACHES:
        importlib.import_module(module)
    names = [entry.name for entry in cache._registry]
    assert len(names) == len(set(names)), names
