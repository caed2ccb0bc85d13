"""Whether the current call came through the private admin entry (``http/private_admin.py``).

A context variable, set for the length of one call by :func:`hydra_lambda.http.private_admin.private_entry`
and by nothing else: no header, query, cookie, body or field of the event can set it, so a call the
public API (or ``make run``'s public port) hands to a public handler always reads False.
``http/forms.credentials`` copies it into :attr:`Credentials.private_network`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_private_entry: ContextVar[bool] = ContextVar("hydra_private_admin_entry", default=False)


def on_private_entry() -> bool:
    """True only inside :func:`served_privately` (the private admin entry's call)."""
    return _private_entry.get()


@contextmanager
def served_privately() -> Iterator[None]:
    """Mark the calls made inside as come through the private admin entry; unmarked on every way out."""
    token = _private_entry.set(True)
    try:
        yield
    finally:
        _private_entry.reset(token)
