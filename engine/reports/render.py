"""Renderers: Jinja2 templates for Markdown and HTML, WeasyPrint for PDF.

HTML is autoescaped; Markdown goes through `md`, which makes any text inert there (no
markup, no table break, no raw HTML, one line). Charts are embedded as data: URIs, so an
HTML or PDF file needs no network and no file beside it: it is printed in a crisis room.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from functools import cache
from typing import Any, BinaryIO

from jinja2 import Environment, PackageLoader, StrictUndefined

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# Characters that make markup anywhere in a line (emphasis, code, links, tables, maths in
# some renderers); those that only count at the start of a line are handled by `_MD_START`.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~^$])")
_MD_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
_MD_AUTOLINK = re.compile(r"(?i)(www)\.|(\w):(//)")
CHUNK = 1 << 16


def md(value: Any) -> str:
    """Text as inert Markdown: one line, every markup character escaped, no raw HTML, no
    autolink."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", text).replace("\n", " ").replace("\t", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_AUTOLINK.sub(lambda m: f"{m[1]}\\." if m[1] else f"{m[2]}\\:{m[3]}", text)
    return _MD_START.sub(_escape_start, text)


def _escape_start(match: re.Match[str]) -> str:
    mark = match[2]
    if mark[0].isdigit():  # "1." starts a list: escape the dot
        return f"{match[1]}{mark[:-1]}\\{mark[-1]}"
    return f"{match[1]}\\{mark}"


def clean(value: Any) -> str:
    """Text for HTML (escaped by the template): without control characters."""
    return _CONTROL.sub(" ", "" if value is None else str(value))


def data_uri(svg: str) -> str:
    """An SVG as a data: URI for an <img>."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _finalize(value: Any) -> Any:
    """Every value a template prints loses its control characters (a forgotten filter
    cannot let an escape sequence or a bidi override through)."""
    return clean(value) if isinstance(value, str) else value


@cache
def environment(kind: str) -> Environment:
    """The Jinja2 environment for `html` (autoescaped) or `md` templates."""
    env = Environment(
        loader=PackageLoader("engine.reports", "templates"),
        autoescape=kind == "html",
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, finalize=_finalize,
    )
    env.filters["md"] = md
    env.filters["clean"] = clean
    env.filters["data_uri"] = data_uri
    return env


def render_chunks(template: str, view: dict[str, Any]) -> Iterator[str]:
    """The rendered template, in pieces as Jinja2 produces them."""
    kind = "html" if template.endswith(".html.j2") else "md"
    return environment(kind).get_template(template).generate(**view)


def write_text(template: str, view: dict[str, Any], stream: BinaryIO) -> None:
    """Render a template into a binary stream as UTF-8, as it is produced."""
    buffer: list[str] = []
    size = 0
    for piece in render_chunks(template, view):
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK:
            stream.write("".join(buffer).encode("utf-8"))
            buffer, size = [], 0
    stream.write("".join(buffer).encode("utf-8"))


def write_pdf(template: str, view: dict[str, Any], stream: BinaryIO) -> None:
    """Render the HTML template and lay it out as PDF with WeasyPrint (fonts from fontconfig;
    only data: URIs are read, so nothing named in hostile text is ever fetched)."""
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)  # its layout chatter is no news
    import weasyprint
    from weasyprint.urls import URLFetcher

    html = "".join(render_chunks(template, view))
    fetcher = URLFetcher(allowed_protocols=["data"], fail_on_errors=False)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url="about:blank")
    document.write_pdf(stream)
