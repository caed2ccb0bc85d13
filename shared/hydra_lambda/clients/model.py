"""An OAuth 2.0 client: the registered metadata and what it allows (grant types, response types,
redirect URIs, scopes). A plain typed value: ``registry`` validates and stores it, ``storage.clients``
maps it to its row, ``endpoints.clients`` gives its wire shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hydra_lambda import clock, scopes

DEFAULT_GRANT_TYPES = ("authorization_code",)
DEFAULT_RESPONSE_TYPES = ("code",)
# "implicit" is accepted for classic clients that list it; "password" never had a handler.
SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", "implicit")
SUPPORTED_RESPONSE_TYPES = ("code", "token", "id_token")
STRING_FIELDS = ("scope", "client_name", "owner", "policy_uri", "tos_uri", "client_uri", "logo_uri")
LIST_FIELDS = ("redirect_uris", "grant_types", "response_types", "contacts")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Client:
    id: str
    client_name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=lambda: list(DEFAULT_GRANT_TYPES))
    response_types: list[str] = field(default_factory=lambda: list(DEFAULT_RESPONSE_TYPES))
    scope: str = ""
    owner: str = ""
    policy_uri: str = ""
    tos_uri: str = ""
    client_uri: str = ""
    logo_uri: str = ""
    contacts: list[str] = field(default_factory=list)
    public: bool = False
    created_at: datetime = field(default_factory=lambda: _now())
    updated_at: datetime = field(default_factory=lambda: _now())
    secret_hash: str | None = None

    def __post_init__(self) -> None:
        # Effective defaults as classic Hydra: no grant types means authorization_code, etc.
        self.grant_types = list(self.grant_types) or list(DEFAULT_GRANT_TYPES)
        self.response_types = list(self.response_types) or list(DEFAULT_RESPONSE_TYPES)

    @property
    def allowed_scopes(self) -> list[str]:
        return self.scope.split()

    def allows_scopes(self, requested: list[str]) -> bool:
        """Whether every requested scope is covered by the client's ``scope`` (wildcard strategy)."""
        return scopes.allows_all(self.allowed_scopes, requested)

    def has_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def has_response_type(self, response_type: str) -> bool:
        """``response_type`` may be a space-separated combination; each part must be registered
        (either alone or inside a registered combination)."""
        registered = {part for entry in self.response_types for part in entry.split()}
        return all(part in registered for part in response_type.split())

    def has_redirect_uri(self, uri: str) -> bool:
        """Exact string match against the registered list."""
        return uri in self.redirect_uris

    def attributes(self) -> dict[str, object]:
        """The registered metadata, shared by the stored row and the API representation."""
        return {
            **{name: getattr(self, name) for name in STRING_FIELDS},
            **{name: list(getattr(self, name)) for name in LIST_FIELDS},
            "public": self.public,
        }

    @property
    def since(self) -> int:
        """The client's generation: its creation time in microseconds (a client deleted and created
        again under the same id has another). Every token row records the one it was issued to."""
        return (self.created_at - _EPOCH) // timedelta(microseconds=1)


def _now() -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)
