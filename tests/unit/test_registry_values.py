"""Single cell rules of the registry format (REGISTRY.md)."""

from __future__ import annotations

from datetime import date, datetime

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.registry import values as v


@pytest.mark.parametrize(("raw", "expected"), [
    ("06 32 53 08 29", "+31632530829"),
    ("06-11215279", "+31611215279"),
    ("+31 6 5207 7052", "+31652077052"),
    ("0031 652234302", "+31652234302"),
    ("020-1234567", "+31201234567"),
    ("+32 470 12 34 56", "+32470123456"),
    (612345678, "+31612345678"),
    (31612345678.0, "+31612345678"),
    ("+31 (0)6 1234 5678", "+31612345678"),
])
def test_phone_becomes_e164(raw: object, expected: str) -> None:
    """Common notations, number cells and foreign numbers all become E.164."""
    assert v.phone(raw) == expected


@pytest.mark.parametrize("raw", ["06-123", "12345", "not a number", "06 1234 56789", "+31 0"])
def test_phone_refuses_invalid(raw: str) -> None:
    """Too short, too long or not a number: refused without repeating the number."""
    with pytest.raises(v.BadValue) as info:
        v.phone(raw)
    assert raw not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=100_000_000, max_value=999_999_999),
       st.sampled_from(["0", "+31", "0031", "+31 ", "0"]))
def test_phone_fast_path_agrees_with_phonenumbers(nsn: int, prefix: str) -> None:
    """The Dutch fast path answers exactly as phonenumbers.parse + is_valid_number."""
    raw = f"{prefix}{nsn}"
    parsed = phonenumbers.parse(raw, "NL")
    if phonenumbers.is_valid_number(parsed):
        assert v.phone(raw) == phonenumbers.format_number(parsed,
                                                          phonenumbers.PhoneNumberFormat.E164)
    else:
        with pytest.raises(v.BadValue):
            v.phone(raw)


_local = st.one_of(st.from_regex(r"[A-Za-z0-9._%+'-]{1,70}", fullmatch=True),
                   st.sampled_from(["WWW", "Postmaster", "abuse", "a" * 64, "a" * 65, ".a", "a.",
                                    "ü", "a b", '"q"']))
_domain = st.sampled_from(["example.org", "Example.NET", "voorbeeldstad.example.org", "a..b.org",
                           "-x.org", "localhost", "x.test", "xn--bcher-kva.example", "bücher.de",
                           "org", "123.456", "sub.example.org"])


@settings(max_examples=400, deadline=None)
@given(_local, _domain)
def test_email_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    """The cached-domain fast path accepts and normalises exactly as email-validator."""
    raw = f"{local}@{domain}"
    try:
        expected = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        with pytest.raises(v.BadValue):
            v.email(raw)
    else:
        assert v.email(raw) == expected


@pytest.mark.parametrize("raw", ["jan@@example.org", "jan.example.org", "jan@", "@example.org",
                                 "jan @example.org", "jan@example"])
def test_email_refuses_invalid(raw: str) -> None:
    """Malformed addresses are refused without repeating the address."""
    with pytest.raises(v.BadValue) as info:
        v.email(raw)
    assert raw not in str(info.value)


def test_email_is_normalised() -> None:
    """The domain is stored in lower case."""
    assert v.email(" Jan.Jansen@Example.ORG ") == "Jan.Jansen@example.org"


@pytest.mark.parametrize(("raw", "expected"), [
    ("tr;nl", ["tr", "nl"]), ("pap", ["pap"]), ("nl; en ;", ["nl", "en"]), ("tur;nl", ["tr", "nl"]),
    ("nl;nl", ["nl"]), (None, []), ("tw", ["tw"]),
])
def test_languages(raw: str | None, expected: list[str]) -> None:
    """ISO 639-1, or 639-3 without a two-letter code; 639-3 with one becomes the short code."""
    assert v.languages(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "english", "NL", "nl;zz", "n"])
def test_languages_refuse_unknown_or_upper_case(raw: str) -> None:
    """Unknown codes and upper case are refused."""
    with pytest.raises(v.BadValue):
        v.languages(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("GM0363", "GM0363"), ("wk036301", "WK036301"), ("BU03630101", "BU03630101"),
    ("noord/oud-noord", "noord/oud-noord"), (None, None),
])
def test_area(raw: str | None, expected: str | None) -> None:
    """CBS codes (normalised to upper case) and free hierarchical codes."""
    assert v.area(raw) == expected


@pytest.mark.parametrize("raw", ["GM036", "BU0363", "WK03630101", "oud noord", "noord/", "a//b"])
def test_area_refuses(raw: str) -> None:
    """A CBS code with the wrong digit count, a space, or an empty part."""
    with pytest.raises(v.BadValue):
        v.area(raw)


@pytest.mark.parametrize(("raw", "limit", "expected"), [
    ("52.0931", 90, 52.0931), ("52,0931", 90, 52.0931), (5.11, 180, 5.11), ("-179.5", 180, -179.5),
])
def test_coordinate(raw: object, limit: float, expected: float) -> None:
    """Decimal degrees, decimal comma accepted."""
    assert v.coordinate(raw, limit) == expected


@pytest.mark.parametrize(("raw", "limit"), [("91", 90), ("-180.1", 180), ("noord", 90),
                                            ("nan", 90), (True, 90)])
def test_coordinate_refuses(raw: object, limit: float) -> None:
    """Out of range or not a number."""
    with pytest.raises(v.BadValue):
        v.coordinate(raw, limit)


@pytest.mark.parametrize(("raw", "expected"), [(None, 1), ("1", 1), ("3", 3), (2.0, 2), (4, 4)])
def test_priority(raw: object, expected: int) -> None:
    """Integer >= 1, default 1."""
    assert v.priority(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "een", 2.5, True])
def test_priority_refuses(raw: object) -> None:
    """Zero, negative, fractions and words are refused."""
    with pytest.raises(v.BadValue):
        v.priority(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    (None, None), ("2026-02-05", date(2026, 2, 5)), (date(2026, 1, 2), date(2026, 1, 2)),
    (datetime(2026, 1, 2, 0, 0), date(2026, 1, 2)),
])
def test_consent(raw: object, expected: date | None) -> None:
    """ISO dates and date cells."""
    assert v.consent(raw) == expected


@pytest.mark.parametrize("raw", ["05-02-2026", "2026-02-30", "20260205", "ja", "2026-2-5"])
def test_consent_refuses(raw: str) -> None:
    """Only YYYY-MM-DD."""
    with pytest.raises(v.BadValue):
        v.consent(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    (None, True), ("yes", True), ("no", False), ("TRUE", True), ("false", False), ("1", True),
    ("0", False), ("ja", True), ("Nee", False), (True, True), (0, False), (1.0, True),
])
def test_active(raw: object, expected: bool) -> None:
    """yes/no/true/false/1/0/ja/nee, default yes."""
    assert v.active(raw) is expected


def test_active_refuses_other_words() -> None:
    """Anything else is refused."""
    with pytest.raises(v.BadValue):
        v.active("misschien")


def test_staff_roles() -> None:
    """Roles from coordinator, liaison, oncall; at least one."""
    assert v.staff_roles("liaison;oncall") == ["liaison", "oncall"]
    for bad in (None, "mayor", "Liaison"):
        with pytest.raises(v.BadValue):
            v.staff_roles(bad)


def test_kind_and_tags() -> None:
    """Kind is one lower-case word; tags are lower case."""
    assert v.kind("faith") == "faith"
    assert v.word_list("islam;turkish;;mosque") == ["islam", "turkish", "mosque"]
    for bad in ("Faith", "two words", "", None):
        with pytest.raises(v.BadValue):
            v.kind(bad)
    with pytest.raises(v.BadValue):
        v.word_list("islam;Turkish")


def test_identifier() -> None:
    """Ids have no spaces."""
    assert v.identifier(" p001 ") == "p001"
    for bad in ("p 001", None, "x" * 201):
        with pytest.raises(v.BadValue):
            v.identifier(bad)


def test_channel() -> None:
    """sms or email, case-insensitive."""
    assert v.channel("SMS") == "sms"
    assert v.channel(None) is None
    with pytest.raises(v.BadValue):
        v.channel("whatsapp")
