"""Rendering dashboard pages: one Jinja environment, one layout, the words, local times.

`render(request, "page.html", **context)` gives every template: `t(key)` (the words in the
page's language), `lang`, `csrf` (the token for forms: put `{{ csrf_field() }}` in every
form), `who` (the principal, or None), `local(value)` (a UTC time as local time in the
playbook's timezone, as a <time> element), `zone`, `path`, and `htmx` (the vendored file).
A request from htmx (`HX-Request`) gets the page's `fragment` block only, when it has one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from engine.web.access import CSRF_FIELD, LANG_COOKIE, pending_cookies, web_of
from engine.web.dashboard.said import say_warning
from engine.web.dashboard.words import MONTHS, choose_language, word
from engine.web.headers import DASHBOARD_MARK
from playbook.said import say

HTMX = "/static/htmx-2.0.11.min.js"
STYLESHEET = "/static/app.css"
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True, lstrip_blocks=True,
)


def language_of(request: Request) -> str:
    """The page language of this request (the switch's cookie, else the browser's)."""
    return choose_language(request.cookies.get(LANG_COOKIE),
                           request.headers.get("accept-language"))


def local_time(value: datetime | str | None, zone: ZoneInfo, lang: str) -> str:
    """A time as people read it here: `1 mrt 2026 10:00` in the zone (empty for None)."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    month = MONTHS.get(lang, MONTHS["nl"])[local.month - 1]
    return f"{local.day} {month} {local.year} {local:%H:%M}"


def render(request: Request, name: str, *, status: int = 200,
           headers: dict[str, str] | None = None, only_fragment: bool = False,
           **context: Any) -> HTMLResponse:
    """A dashboard page (or, for htmx or with `only_fragment`, its fragment) with the
    layout's context."""
    web = web_of(request)
    lang = language_of(request)
    template = _env.get_template(name)
    csrf = getattr(request.state, "csrf", "")

    said: dict[datetime | str, Markup] = {}  # a page repeats a few times many times

    def local(value: datetime | str | None) -> Markup:
        if not value:
            return Markup("")
        if value not in said:
            stamp = value if isinstance(value, str) else value.isoformat()
            said[value] = Markup('<time datetime="{}">{}</time>').format(
                stamp, local_time(value, web.zone, lang))
        return said[value]

    values = {
        "lang": lang, "t": lambda key: word(lang, key), "csrf": csrf,
        "csrf_field": lambda: Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(csrf)),
        "who": getattr(request.state, "principal", None), "local": local,
        "zone": str(web.zone), "path": request.url.path, "htmx": HTMX,
        "stylesheet": STYLESHEET, "say": lambda text: say(lang, text),
        "say_warning": lambda text, detail: say_warning(lang, text, detail), **context,
    }
    if (only_fragment or request.headers.get("hx-request")) and "fragment" in template.blocks:
        html = "".join(template.blocks["fragment"](template.new_context(values)))
    else:
        html = template.render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers[DASHBOARD_MARK] = "1"
    return pending_cookies(request, response)
