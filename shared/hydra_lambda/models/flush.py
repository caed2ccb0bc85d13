"""The body of ``POST /oauth2/flush`` (classic ``FlushInactiveOAuth2TokensRequest``).

The route and the CLI read it with ``models.plain.flush_cutoff`` (one optional field does not need
pydantic); this model is its declared schema, and tests/test_perf_coldstart.py keeps the two in step.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from hydra_lambda.models.plain import NOT_AFTER_FORMAT, rfc3339


class FlushInactiveOAuth2TokensRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    not_after: StrictStr | None = Field(default=None, alias="notAfter")

    @field_validator("not_after")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None and not rfc3339(value):
            raise ValueError(NOT_AFTER_FORMAT)
        return value
