"""The rules of a client id (and the shortest client secret), shared by the /clients API
(``clients.validate_client_id``) and the settings (``FORCE_ROOT_CLIENT_CREDENTIALS``). Standard
library only: the settings check them when a function starts, without loading the client store
(botocore and pynamodb, ~90 ms)."""

from __future__ import annotations

import re

MIN_SECRET_LENGTH = 6
MAX_ID_LENGTH = 255
_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space (ids end up in paths and Basic auth)
# API Gateway decodes the path before routing it: a '/' splits the segment, and a decoded '?' or
# '#' ends the path, so a client with one of these in its id could never be read, updated or deleted.
_UNROUTABLE = frozenset("/?#")
ID_RULE = f"id must be 1 to {MAX_ID_LENGTH} printable ASCII characters without spaces, '/', '?' or '#'"


def is_valid_client_id(client_id: str) -> bool:
    return bool(client_id) and len(client_id) <= MAX_ID_LENGTH and bool(_ID.match(client_id)) and not (
        _UNROUTABLE & set(client_id)
    )
