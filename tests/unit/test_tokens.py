"""Opaque tokens: format, HMAC verification without the database, secret rotation."""

from __future__ import annotations

import hashlib

import pytest
from hydra_lambda import system_secret
from hydra_lambda.config import reset_settings
from hydra_lambda.tokens import opaque as opaque_tokens


def test_tokens_carry_a_kind_prefix_and_verify() -> None:
    token, signature = opaque_tokens.generate("access")
    assert token.startswith("hl_at_")
    assert len(token) == len("hl_at_") + 43 + 1 + 43
    assert opaque_tokens.signature_of(token, "access") == signature
    assert opaque_tokens.kind_of(token) == "access"


def test_the_signature_is_hmac_sha256_of_prefix_and_key_under_the_system_secret() -> None:
    import base64
    import hmac

    for kind in ("access", "refresh", "access"):  # the keyed HMAC state is reused, never consumed
        token, signature = opaque_tokens.generate(kind)  # type: ignore[arg-type]
        prefix = opaque_tokens.PREFIXES[kind]
        key = base64.urlsafe_b64decode(token[len(prefix):].split(".")[0] + "=")
        expected = hmac.new(system_secret.keys()[0], prefix.encode() + key, hashlib.sha256).digest()
        # The storage key: the signed expiry (10 digits), then the HMAC.
        assert signature == "0000000000" + base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
        assert token.endswith("." + signature[10:])


def test_the_expiry_is_signed_into_the_token_and_leads_its_storage_key() -> None:
    import base64

    token, signature = opaque_tokens.generate("access", 1_764_560_000)
    assert signature.startswith("1764560000") and opaque_tokens.signature_of(token, "access") == signature
    key = bytearray(base64.urlsafe_b64decode(token[6:].split(".")[0] + "="))
    key[4] ^= 1  # another expiry under the same signature: not genuine
    forged = "hl_at_" + base64.urlsafe_b64encode(bytes(key)).rstrip(b"=").decode() + token[6 + 43:]
    assert opaque_tokens.signature_of(forged, "access") is None
    assert opaque_tokens.expiry_prefix(1_764_560_001) > signature > opaque_tokens.expiry_prefix(1_764_560_000)


def test_a_token_of_another_kind_is_rejected() -> None:
    token, _ = opaque_tokens.generate("refresh")
    assert opaque_tokens.signature_of(token, "access") is None
    # Same key and signature under another prefix: the prefix is part of what is signed.
    assert opaque_tokens.signature_of("hl_at_" + token[len("hl_rt_"):], "access") is None


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],
    lambda t: t.replace(".", ""),
    lambda t: t + "x",
    lambda t: "",
    lambda t: t.split(".")[0],
    lambda t: "hl_at_" + "." * 87,
    lambda t: "hl_at_" + "é" * 43 + "." + "é" * 43,
    lambda t: t * 4,
])
def test_forged_or_malformed_tokens_are_rejected(mangle) -> None:
    token, _ = opaque_tokens.generate("access")
    assert opaque_tokens.signature_of(mangle(token), "access") is None


def test_system_secret_rotation_keeps_old_tokens_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    old_secret = "old-secret-0123456789abcdef"
    monkeypatch.setenv("SYSTEM_SECRET", old_secret)
    reset_settings()
    old_token, old_sig = opaque_tokens.generate("access")
    monkeypatch.setenv("SYSTEM_SECRET", f"new-secret-0123456789abcdef,{old_secret}")
    reset_settings()
    assert opaque_tokens.signature_of(old_token, "access") == old_sig
    new_token, _ = opaque_tokens.generate("access")
    monkeypatch.setenv("SYSTEM_SECRET", "new-secret-0123456789abcdef")
    reset_settings()
    assert opaque_tokens.signature_of(old_token, "access") is None
    assert opaque_tokens.signature_of(new_token, "access") is not None
    monkeypatch.undo()
    reset_settings()


def test_short_system_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.config import ConfigError

    monkeypatch.setenv("SYSTEM_SECRET", "short")
    reset_settings()
    with pytest.raises(ConfigError, match="16"):
        system_secret.keys()
    monkeypatch.undo()
    reset_settings()
