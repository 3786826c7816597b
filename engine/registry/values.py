"""Parsing single cell values of the registry format; each raises BadValue with a message.

Messages are Dutch / English and never repeat a name, phone number or email address.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

DEFAULT_REGION = "NL"
# Limits on what a cell may hold (docs/ARCHITECTURE: "registry input limits"). A name or a
# title is printed in tables, SMS and email; a cell of megabytes or a terminal escape sequence
# in one is an attack or an accident, never data.
MAX_CELL = 10_000  # characters, any cell; checked before the column's own rule
MAX_ID = 200
MAX_NAME = 200  # name (community, contact, staff)
MAX_ROLE = 100
MAX_WORD = 50  # kind, one tag, one language code
MAX_WORDS = 50  # tags or languages in one cell
MAX_AREA = 100
MAX_ATTRIBUTE = 2_000  # an extra community column's value
# C0 controls, DEL, C1 controls, bidirectional embeddings/overrides/isolates, line and
# paragraph separators. Tab and newline are allowed only in free text (extra columns).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_IN_FREE_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STAFF_ROLES = ("coordinator", "liaison", "oncall")
CHANNELS = ("sms", "email")
_TRUE = {"yes", "true", "1", "ja", "y", "j"}
_FALSE = {"no", "false", "0", "nee", "n"}
_KIND = re.compile(r"^[a-z][a-z0-9_-]*$")
_CBS = re.compile(r"^(GM|WK|BU)(\d+)$", re.IGNORECASE)
_CBS_DIGITS = {"GM": 4, "WK": 6, "BU": 8}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEPARATORS = re.compile(r"[\s.\-]")
_DUTCH = re.compile(r"(?:0|\+31|0031)([1-9]\d{8})")
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class BadValue(ValueError):
    """A cell value that breaks its column's rule; the message says what is wrong."""


def cell_problem(value: Any, *, free_text: bool = False) -> str | None:
    """What makes a cell unusable whatever its column: its length or a control character."""
    if not isinstance(value, str):
        return None
    if len(value) > MAX_CELL:
        return (f"cel is {len(value)} tekens; hooguit {MAX_CELL} / cell is {len(value)} "
                f"characters long; at most {MAX_CELL}")
    found = (_CONTROL_IN_FREE_TEXT if free_text else _CONTROL).search(value)
    if found:
        return (f"bevat een stuurteken (U+{ord(found.group()):04X}) op positie "
                f"{found.start() + 1} / holds a control character (U+{ord(found.group()):04X}) "
                f"at position {found.start() + 1}")
    return None


def _at_most(result: str, limit: int) -> str:
    if len(result) > limit:
        raise BadValue(f"{len(result)} tekens; hooguit {limit} / {len(result)} characters "
                       f"long; at most {limit}")
    return result


def text(value: Any) -> str | None:
    """A cell as trimmed text; numbers typed in a spreadsheet lose a trailing `.0`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() \
            else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    result = str(value).strip()
    return result or None


def identifier(value: Any) -> str:
    """An id: no spaces, at most 200 characters."""
    result = text(value)
    if result is None:
        raise BadValue("verplicht / required")
    if any(ch.isspace() for ch in result):
        raise BadValue(f"'{result}' bevat een spatie / contains a space")
    if len(result) > MAX_ID:
        raise BadValue(f"langer dan {MAX_ID} tekens / longer than {MAX_ID} characters")
    return result


def identifier_or_none(value: Any) -> str | None:
    """An optional id."""
    return None if text(value) is None else identifier(value)


def required_text(value: Any) -> str:
    """A non-empty text."""
    result = text(value)
    if result is None:
        raise BadValue("verplicht / required")
    return result


def name(value: Any) -> str:
    """A required name, at most MAX_NAME characters."""
    return _at_most(required_text(value), MAX_NAME)


def role(value: Any) -> str | None:
    """An optional free-text role, at most MAX_ROLE characters."""
    result = text(value)
    return None if result is None else _at_most(result, MAX_ROLE)


def attribute(value: Any) -> str | None:
    """An extra community column's value as text, at most MAX_ATTRIBUTE characters."""
    result = text(value)
    return None if result is None else _at_most(result, MAX_ATTRIBUTE)


def kind(value: Any) -> str:
    """One lower-case word such as `faith`."""
    result = _at_most(required_text(value), MAX_WORD)
    if result != result.lower() and _KIND.match(result.lower()):
        raise BadValue(f"'{result}' moet kleine letters zijn / must be lower case: "
                       f"'{result.lower()}'")
    if not _KIND.match(result):
        raise BadValue(f"'{result}' is niet een woord in kleine letters / is not one lower-case "
                       "word (e.g. faith, migrant, neighbourhood)")
    return result


def word_list(value: Any) -> list[str]:
    """A `;`-separated lower-case list; empty parts are skipped, repeats kept once."""
    raw = text(value)
    if raw is None:
        return []
    items: list[str] = []
    for part in raw.split(";"):
        item = part.strip()
        if not item:
            continue
        if len(item) > MAX_WORD:
            raise BadValue(f"een deel is {len(item)} tekens; hooguit {MAX_WORD} / a part is "
                           f"{len(item)} characters long; at most {MAX_WORD}")
        if item != item.lower():
            raise BadValue(f"'{item}' moet kleine letters zijn / must be lower case: "
                           f"'{item.lower()}'")
        if item not in items:
            items.append(item)
    if len(items) > MAX_WORDS:
        raise BadValue(f"{len(items)} delen; hooguit {MAX_WORDS} / {len(items)} parts; at most "
                       f"{MAX_WORDS}")
    return items


@cache
def _language_tables() -> tuple[frozenset[str], frozenset[str], dict[str, str]]:
    import pycountry

    two: set[str] = set()
    three_only: set[str] = set()
    three_to_two: dict[str, str] = {}
    for lang in pycountry.languages:
        alpha_2 = getattr(lang, "alpha_2", None)
        if alpha_2:
            two.add(alpha_2)
            three_to_two[lang.alpha_3] = alpha_2
            bib = getattr(lang, "bibliographic", None)
            if bib:
                three_to_two[bib] = alpha_2
        else:
            three_only.add(lang.alpha_3)
    return frozenset(two), frozenset(three_only), three_to_two


def language(value: Any) -> str | None:
    """An ISO 639-1 code, or ISO 639-3 for a language without one; `tur` becomes `tr`."""
    code = text(value)
    if code is None:
        return None
    if code != code.lower():
        raise BadValue(f"'{code}' moet kleine letters zijn / must be lower case: "
                       f"'{code.lower()}'")
    two, three_only, three_to_two = _language_tables()
    if code in two or code in three_only:
        return code
    if code in three_to_two:
        return three_to_two[code]
    raise BadValue(f"'{code}' is geen ISO 639-taalcode / is not an ISO 639 language code "
                   "(e.g. nl, tr, ar, pap)")


def languages(value: Any) -> list[str]:
    """A `;`-separated list of language codes, first = preferred."""
    result: list[str] = []
    for part in word_list(value):
        code = language(part)
        if code is not None and code not in result:
            result.append(code)
    return result


def area(value: Any) -> str | None:
    """A CBS code (`GM0363`, `WK036301`, `BU03630101`) or a free code such as `noord/oud-noord`."""
    code = text(value)
    if code is None:
        return None
    _at_most(code, MAX_AREA)
    match = _CBS.match(code)
    if match:
        prefix, digits = match.group(1).upper(), match.group(2)
        if len(digits) != _CBS_DIGITS[prefix]:
            raise BadValue(f"'{code}' is geen geldige CBS-code / is not a valid CBS code: "
                           f"{prefix} takes {_CBS_DIGITS[prefix]} digits")
        return prefix + digits
    if any(ch.isspace() for ch in code):
        raise BadValue(f"'{code}' bevat een spatie / contains a space")
    if code.startswith("/") or code.endswith("/") or "//" in code:
        raise BadValue(f"'{code}' heeft een leeg deel / has an empty part between '/'")
    return code


def coordinate(value: Any, limit: float) -> float | None:
    """Decimal degrees within ±limit; a decimal comma is accepted."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue("geen getal / not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        raw = str(value).strip()
        if "," in raw and "." not in raw:
            raw = raw.replace(",", ".")
        try:
            number = float(raw)
        except ValueError:
            raise BadValue(f"'{raw}' is geen getal / is not a number") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise BadValue(f"{number} ligt buiten -{limit:g}..{limit:g} / is out of range "
                       f"-{limit:g}..{limit:g}")
    return number


def priority(value: Any) -> int:
    """An integer >= 1; default 1."""
    if value is None:
        return 1
    if isinstance(value, bool):
        raise BadValue("geen geheel getal / not a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise BadValue(f"'{raw}' is geen geheel getal / is not a whole number")
    number = int(raw)
    if number < 1:
        raise BadValue(f"{number} moet 1 of hoger zijn / must be 1 or higher")
    return number


def phone(value: Any) -> str | None:
    """Any common notation to E.164; Dutch numbers are assumed without a country code."""
    if value is None:
        return None
    dutch = _DUTCH.fullmatch(_SEPARATORS.sub("", text(value) or ""))
    if dutch:
        # Fast path, same answer as parse(): a plain Dutch number needs no parsing.
        number = phonenumbers.PhoneNumber(country_code=31, national_number=int(dutch.group(1)))
        if phonenumbers.is_valid_number(number):
            return "+31" + dutch.group(1)
        raise BadValue("geen geldig telefoonnummer / not a valid phone number")
    candidates = [text(value) or ""]
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A number cell loses the leading 0 or +; try it as national and as international.
        candidates.append("+" + candidates[0])
    for raw in candidates:
        try:
            number = phonenumbers.parse(raw, DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise BadValue("geen geldig telefoonnummer / not a valid phone number")


def email(value: Any) -> str | None:
    """A syntactically valid address (no network look-up), normalised."""
    raw = text(value)
    if raw is None:
        return None
    local, _, domain = raw.rpartition("@")
    if (_PLAIN_LOCAL.fullmatch(local) and len(local) <= 64
            and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES):
        # Fast path: a plain ASCII local part; the domain's verdict is the same for every address.
        normal_domain = _email_domain(domain)
        if normal_domain is not None and len(local) + 1 + len(normal_domain) <= 254:
            return f"{local}@{normal_domain}"
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        raise BadValue("geen geldig e-mailadres / not a valid email address") from None


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def channel(value: Any) -> str | None:
    """`sms` or `email`, or None for the default."""
    raw = text(value)
    if raw is None:
        return None
    if raw.lower() not in CHANNELS:
        raise BadValue(f"'{raw}' moet sms of email zijn / must be sms or email")
    return raw.lower()


def consent(value: Any) -> date | None:
    """A date `YYYY-MM-DD` (or a date cell); empty = no consent."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip()
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadValue(f"'{raw}' is geen datum JJJJ-MM-DD / is not a date YYYY-MM-DD") from None


def active(value: Any) -> bool:
    """yes/no/true/false/1/0/ja/nee; default yes."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    raw = (text(value) or "").lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadValue(f"'{raw}' moet yes/no/true/false/1/0/ja/nee zijn / must be "
                   "yes/no/true/false/1/0/ja/nee")


def staff_roles(value: Any) -> list[str]:
    """A `;`-separated list from coordinator, liaison, oncall; at least one."""
    roles = word_list(value)
    if not roles:
        raise BadValue("verplicht: coordinator, liaison en/of oncall / required: coordinator, "
                       "liaison and/or oncall")
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown:
        raise BadValue(f"onbekende rol / unknown role '{unknown[0]}': use coordinator, liaison, "
                       "oncall")
    return roles
