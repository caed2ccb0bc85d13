"""RFC 8628 section 6.1: user codes of enough entropy, typed forgivingly; device verifiers only the
system secret makes."""

from __future__ import annotations

import math
from collections import Counter

from hydra_lambda.authorization import device


def test_user_codes_are_eight_letters_of_twenty_without_vowels() -> None:
    codes = [device.new_user_code() for _ in range(2000)]
    assert all(len(code) == 9 and code[4] == "-" for code in codes)
    letters = Counter("".join(code.replace("-", "") for code in codes))
    assert set(letters) == set(device.USER_CODE_ALPHABET) and not set("AEIOUY01") & set(letters)
    assert len(set(codes)) == len(codes)
    assert math.log2(len(device.USER_CODE_ALPHABET) ** device.USER_CODE_LENGTH) > 34  # RFC 8628 6.1's example


def test_user_codes_are_read_case_insensitively_without_separators() -> None:
    assert device.normalize_user_code("wdjb-mjht") == "WDJBMJHT"
    assert device.normalize_user_code(" WDJB MJHT ") == "WDJBMJHT"
    for wrong in ("WDJB-MJH", "WDJB-MJHTX", "WDJB-MJH1", "AEIO-UBCD", "", "x" * 5000):
        assert device.normalize_user_code(wrong) is None


def test_device_verifiers_match_only_their_challenge() -> None:
    verifier = device.device_verifier("challenge-a")
    assert device.device_verifier_matches("challenge-a", verifier)
    assert not device.device_verifier_matches("challenge-b", verifier)
    assert not device.device_verifier_matches("challenge-a", "")
