"""The keyset paging of the current API's lists (paging.page_size, keyset_token, keyset_after)."""

from __future__ import annotations

import pytest
from hydra_lambda import paging
from hydra_lambda.errors import BadRequest


@pytest.mark.parametrize("raw", ["0", "1001", "x", "-1", "1.5", "\u0663", "9" * 5000, "0000010"])
def test_a_page_size_outside_its_bounds_is_a_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        paging.page_size(raw, 250, 1000)


def test_a_page_size_in_bounds_or_absent_is_read() -> None:
    assert paging.page_size("", 250, 1000) == 250
    assert paging.page_size("1000", 250, 1000) == 1000


def test_a_token_names_its_list_and_its_last_id() -> None:
    token = paging.keyset_token("k", "client-7")
    assert paging.keyset_after(token, "k", bool) == "client-7"
    assert paging.keyset_after("", "k", bool) == ""
    for bad in (paging.keyset_token("t", "client-7"), "bogus", "%%%", paging.keyset_token("k", "")):
        with pytest.raises(BadRequest):
            paging.keyset_after(bad, "k", bool)
