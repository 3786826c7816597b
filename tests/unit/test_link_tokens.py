"""Link tokens: what is stored (a masked link) and what is sent (the token) differ, have the
same length and characters, and only the secret key turns one into the other."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from engine.links import tokens
from playbook.sms import sms_info

SECRET = "unit-test-secret"
SHAPE = re.compile(r"[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{11}")


def minted() -> tuple[str, dict]:
    return tokens.mint(secret=SECRET, purpose="intake", incident_id=1, community_ids=["c"],
                       recipient_kind="contact", recipient_id="k1", locale="nl",
                       now=datetime(2026, 3, 1, tzinfo=UTC), valid_for=timedelta(days=1),
                       form_id="needs")


def test_the_stored_link_is_masked_and_the_channel_gets_the_token() -> None:
    masked, row = minted()
    body = f"Vul in: https://verbinder.example.org/i/{masked}."
    sent = tokens.reveal(SECRET, body)
    assert sent is not None and sent != body
    (token,) = re.findall(r"/i/([^\s]+)\.$", sent)
    assert tokens.signature_ok(SECRET, token) and not tokens.signature_ok(SECRET, masked)
    assert row["token_hash"] == tokens.token_hash(token) != tokens.token_hash(masked)
    assert SHAPE.fullmatch(masked) and SHAPE.fullmatch(token)
    assert len(sent) == len(body) and sms_info(sent) == sms_info(body)
    assert tokens.reveal(SECRET, sent) == sent, "a token is left as it is"


def test_only_the_secret_key_reveals_and_lookalikes_stay_text() -> None:
    masked, _ = minted()
    assert tokens.reveal("another-secret", masked) == masked
    seed = masked.split(".")[0]
    lookalikes = [f"{seed}.AAAAAAAAAAA", "abcdefghijklmnopqrst.uvwxyzABCDE",
                  f"x{masked}", f"{masked}x"]
    for text in lookalikes:
        assert tokens.reveal(SECRET, text) == text
    assert tokens.reveal(SECRET, None) is None and tokens.reveal(SECRET, "") == ""


def test_tokens_are_random_per_link() -> None:
    assert len({minted()[0] for _ in range(50)}) == 50
