"""Cells that a spreadsheet would run as a formula, and the apostrophe that keeps them text.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@` (and,
in some versions, a tab or carriage return) as a formula, also when it comes from a CSV file:
`=HYPERLINK(...)` or `=cmd|...` in a community name would run on the coordinator's machine.
An export therefore writes such a cell with a leading apostrophe, the spreadsheet's own "this
is text" mark (OWASP, "CSV injection"), and an import drops that apostrophe again, so that
export -> import -> export keeps every value exactly.

The rule is exact in both directions: a value is protected when, after any leading
apostrophes, it starts with one of those characters; one apostrophe is added, and one is
taken off only in front of such a value. `'s-Hertogenbosch` is not touched; `'=1` (a value
that itself starts with an apostrophe) is written `''=1` and read back as `'=1`. Numbers
written as text get the apostrophe too (`'+31612345678`, `'-4.9`): a spreadsheet then keeps
the `+` of an E.164 number instead of turning it into a number, and the import reads them as
the same values.
"""

from __future__ import annotations

FORMULA_START = frozenset("=+-@\t\r")


def needs_protection(text: str) -> bool:
    """True when a spreadsheet could read the text (after leading apostrophes) as a formula."""
    rest = text.lstrip("'")
    return bool(rest) and rest[0] in FORMULA_START


def protect(text: str) -> str:
    """The text as a CSV cell that a spreadsheet shows as text, never runs."""
    return "'" + text if needs_protection(text) else text


def unprotect(text: str) -> str:
    """The value of a cell written by `protect` (or by a person using the same apostrophe)."""
    if text.startswith("'") and needs_protection(text[1:]):
        return text[1:]
    return text
