"""The body of ``POST /oauth2/flush`` (classic ``FlushInactiveOAuth2TokensRequest``)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from hydra_lambda.errors import BadRequest

# RFC 3339 date-time: full date, "T" (or space), time, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
# Go's zero time, which classic clients send for "no value": it means "now", as a missing value does.
_GO_ZERO_YEAR = 1


class FlushInactiveOAuth2TokensRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    not_after: StrictStr | None = Field(default=None, alias="notAfter")

    @field_validator("not_after")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None and not _parse(value):
            raise ValueError("notAfter must be an RFC 3339 date-time with an offset, e.g. 2026-01-01T00:00:00Z")
        return value

    def cutoff(self) -> int | None:
        """``notAfter`` as epoch seconds; None (meaning now) when absent or Go's zero time."""
        parsed = _parse(self.not_after) if self.not_after else None
        if parsed is None or parsed.year == _GO_ZERO_YEAR:
            return None
        return int(parsed.timestamp())

    @classmethod
    def parse(cls, body: dict[str, object]) -> FlushInactiveOAuth2TokensRequest:
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise BadRequest(f"Invalid notAfter: {first['msg']}") from exc


def _parse(value: str) -> datetime | None:
    if not _RFC3339.match(value):
        return None
    text = value.replace(" ", "T").replace("t", "T").replace("z", "Z")
    try:
        # Python keeps microseconds only; cut a longer fraction (nanoseconds from Go clients).
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None
