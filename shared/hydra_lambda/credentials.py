"""What a caller presented, as typed values: the edge (``http/``) parses the ``Authorization``
header into a :class:`Credentials`; the domain never sees the header.

A Basic header that cannot be decoded is kept as ``basic_problem`` rather than raised at once: only
the endpoints that authenticate clients refuse it (``invalid_client``), the others ignore it as they
ignore any scheme they do not use.

``private_network`` is the one credential no request can carry: it is True only for a call that
came in through the private admin entry (``http/private_admin.py``: the private REST API on AWS,
reachable only through the operator's VPC endpoints, or ``make run``'s loopback admin port), which
Lambda and the local server invoke apart from the public API. It is never read from a header, a
query, a cookie or the event: the public handlers cannot set it. The warden serves such a call
without a token, as Hydra serves its admin port.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra_lambda.errors import InvalidClient


@dataclass(frozen=True)
class BasicCredentials:
    """``Authorization: Basic``, both halves already form-URL-decoded (RFC 6749 section 2.3.1)."""

    client_id: str
    secret: str


@dataclass(frozen=True)
class Credentials:
    """The caller's credentials: a Bearer token, Basic client credentials, or nothing."""

    bearer: str | None = None
    basic: BasicCredentials | None = None
    basic_problem: str = ""
    network: str = ""  # the caller's network (IPv4 address, IPv6 /64): what client-secret budgets count
    private_network: bool = False  # came through the private admin entry (see the module's docstring)

    @property
    def sent_basic(self) -> bool:
        """The Basic scheme was used, well formed or not."""
        return self.basic is not None or bool(self.basic_problem)

    def client_credentials(self) -> BasicCredentials | None:
        """The Basic credentials, or None without them; InvalidClient when they were malformed."""
        if self.basic_problem:
            raise InvalidClient(self.basic_problem)
        return self.basic


ANONYMOUS = Credentials()
