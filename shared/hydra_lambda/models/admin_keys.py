"""Wire models of ``/admin/keys/<set>[/<kid>]`` with Ory Hydra's names (``spec/api.json``:
``createJsonWebKeySet``, ``jsonWebKey``, ``jsonWebKeySet``). The answers are the stored JWKs as
dicts in the same shape (``keys.app_sets`` makes them canonical). ``keys.app_sets.validate`` checks
what a key holds; these models check only that the body has Hydra's shape."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr


class CreateJsonWebKeySet(BaseModel):
    """``POST /admin/keys/<set>``: generate a key. ``kid`` empty: a random UUID; ``use`` sig or enc."""

    model_config = ConfigDict(extra="ignore")

    alg: StrictStr
    kid: StrictStr = ""
    use: StrictStr = "sig"


class JsonWebKey(BaseModel):
    """One JWK as uploaded (``PUT /admin/keys/<set>/<kid>`` and inside a set): Hydra's members;
    ``x5c`` is read and refused (certificates are not kept), any other member is a 400."""

    model_config = ConfigDict(extra="forbid")

    alg: StrictStr
    kid: StrictStr
    kty: StrictStr
    use: StrictStr = "sig"
    crv: StrictStr | None = None
    d: StrictStr | None = None
    dp: StrictStr | None = None
    dq: StrictStr | None = None
    e: StrictStr | None = None
    k: StrictStr | None = None
    n: StrictStr | None = None
    p: StrictStr | None = None
    q: StrictStr | None = None
    qi: StrictStr | None = None
    x: StrictStr | None = None
    x5c: list[StrictStr] | None = None
    y: StrictStr | None = None


class JsonWebKeySet(BaseModel):
    """``PUT /admin/keys/<set>``: the set's keys, replacing every key it had."""

    model_config = ConfigDict(extra="forbid")

    keys: list[JsonWebKey]
