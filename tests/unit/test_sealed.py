"""TOTP secrets sealed at rest (engine.accounts.sealed): AES-256-GCM, bound to their row."""

from __future__ import annotations

import base64

import pyotp
import pytest

from engine.accounts.sealed import (
    NONCE_BYTES,
    PREFIX,
    Unreadable,
    is_sealed,
    open_sealed,
    seal,
    totp_key,
)

KEY = totp_key("test-secret")
SECRET = pyotp.random_base32(32)


def test_a_sealed_secret_opens_for_its_row_and_hides_the_secret() -> None:
    stored = seal(KEY, "account:7", SECRET)
    assert stored.startswith(PREFIX) and is_sealed(stored) and SECRET not in stored
    assert open_sealed(KEY, "account:7", stored) == SECRET
    raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
    assert len(raw) == NONCE_BYTES + len(SECRET) + 16  # nonce, ciphertext, GCM tag


def test_every_write_takes_a_new_nonce() -> None:
    first, second = seal(KEY, "account:7", SECRET), seal(KEY, "account:7", SECRET)
    assert first != second
    assert first[:len(PREFIX) + 16] != second[:len(PREFIX) + 16]


def test_the_key_is_derived_from_the_secret_key() -> None:
    assert len(KEY) == 32 and KEY == totp_key("test-secret") != totp_key("another secret")


@pytest.mark.parametrize("key, aad", [(totp_key("another secret"), "account:7"),
                                      (KEY, "account:8"), (KEY, "enrolment:7")])
def test_another_key_or_row_does_not_open(key: bytes, aad: str) -> None:
    stored = seal(KEY, "account:7", SECRET)
    with pytest.raises(Unreadable) as refused:
        open_sealed(key, aad, stored)
    assert SECRET not in str(refused.value) and "secret" not in str(refused.value)


@pytest.mark.parametrize("stored", ["v1:", "v1:!!!", "v1:" + "A" * 20, "v1:" + "A" * 200])
def test_a_damaged_value_is_unreadable(stored: str) -> None:
    with pytest.raises(Unreadable):
        open_sealed(KEY, "account:7", stored)


def test_a_plain_value_from_before_sealing_is_read_as_it_is() -> None:
    assert not is_sealed(SECRET)
    assert open_sealed(KEY, "account:7", SECRET) == SECRET
