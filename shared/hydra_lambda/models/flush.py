"""The body of ``POST /oauth2/flush`` (classic ``FlushInactiveOAuth2TokensRequest``), read by the route
and the CLI through ``flush_cutoff``. ``notAfter`` is parsed by pydantic's datetime parser (RFC 3339
date-times, an offset required); pydantic is imported only when a flush is asked for over HTTP or the
CLI, never by the scheduled flush.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from hydra_lambda.errors import BadRequest

EXAMPLE = "an RFC 3339 date-time with an offset, e.g. 2026-01-01T00:00:00Z"
# Go's zero time, which classic clients send for "no value": it means "now", as a missing value does.
_GO_ZERO_YEAR = 1


def _text_only(value: Any) -> Any:
    """A date-time arrives as JSON text: numbers and booleans are refused, not read as epoch seconds."""
    if value is not None and not isinstance(value, str):
        raise ValueError("Input should be a valid string")
    return value


class FlushInactiveOAuth2TokensRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    not_after: Annotated[AwareDatetime | None, BeforeValidator(_text_only)] = Field(default=None, alias="notAfter")


def flush_cutoff(body: dict[str, Any]) -> int | None:
    """The body's ``notAfter`` (or ``not_after``, the field name) as epoch seconds; None (meaning now)
    when absent, null or Go's zero time. Other fields are ignored; an invalid value is a 400."""
    try:
        not_after = FlushInactiveOAuth2TokensRequest.model_validate(body).not_after
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise BadRequest(f"Invalid notAfter: {reason} ({EXAMPLE})") from None
    if not_after is None or not_after.year == _GO_ZERO_YEAR:
        return None
    return int(not_after.timestamp())
