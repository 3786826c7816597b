"""`peacetime report`: the figures of peace time over a period, in md or html, with a chart
of contacts per month per kind of community. No personal data: communities only."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from engine.peacetime.figures import PeacetimeFigures
from engine.peacetime.service import period_figures
from engine.reports.charts import contacts_chart
from engine.reports.i18n import local_time
from engine.reports.output import Output, check_target
from engine.reports.render import write_text

FORMATS = ("md", "html")
WORDS = {
    "nl": {"title": "Vredestijd: contact met gemeenschappen", "period": "Periode",
           "from": "van", "to": "tot en met", "generated": "gemaakt",
           "contacts": "Contactmomenten", "neutral": "Op neutrale grond",
           "bridging": "Met meerdere gemeenschappen (verbindend)",
           "never": "Gemeenschappen nooit gesproken",
           "not_in_period": "Gemeenschappen niet gesproken in deze periode",
           "agreements": "Afspraken", "due": "met einddatum in de periode",
           "kept": "op tijd nagekomen", "made": "gemaakt", "done": "afgerond",
           "per_month": "Contactmomenten per maand, per soort gemeenschap",
           "axis": "contactmomenten", "month": "maand", "kind": "soort",
           "by_contact_kind": "Soort contact", "none": "geen",
           "no_pii": "Dit rapport bevat geen persoonsgegevens."},
    "en": {"title": "Peace time: contact with communities", "period": "Period",
           "from": "from", "to": "to", "generated": "generated",
           "contacts": "Contacts made", "neutral": "On neutral ground",
           "bridging": "With several communities (bridging)",
           "never": "Communities never contacted",
           "not_in_period": "Communities not contacted in this period",
           "agreements": "Agreements", "due": "due in the period", "kept": "kept on time",
           "made": "made", "done": "done",
           "per_month": "Contacts per month, per kind of community",
           "axis": "contacts", "month": "month", "kind": "kind",
           "by_contact_kind": "Kind of contact", "none": "none",
           "no_pii": "This report holds no personal data."},
}


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({round(100 * part / whole)}%)" if whole else "—"


def peacetime_view(figures: PeacetimeFigures, lang: str, *, now: datetime,
                   charts: bool) -> dict[str, Any]:
    """Everything the report shows, in one language."""
    w = WORDS[lang]
    start = local_time(figures.start, figures.zone, lang).split(" ")[0]
    last = local_time(figures.end - timedelta(seconds=1), figures.zone, lang).split(" ")[0]
    kinds = sorted({k for counts in figures.per_month.values() for k in counts})
    return {
        "w": w, "lang": lang, "title": f"{w['title']} {start} – {last}",
        "period": f"{w['from']} {start} {w['to']} {last}",
        "generated": local_time(now, figures.zone, lang),
        "contacts": figures.contacts,
        "neutral": _share(figures.neutral_ground, figures.contacts),
        "bridging": _share(figures.bridging, figures.contacts),
        "by_contact_kind": sorted(figures.by_kind_contact.items()),
        "kinds": kinds,
        "months": [(m, [counts.get(k, 0) for k in kinds], sum(counts.values()))
                   for m, counts in figures.per_month.items()],
        "never": figures.never_contacted, "not_in_period": figures.not_in_period,
        "agreements": {"due": figures.agreements_due,
                       "kept": _share(figures.agreements_kept, figures.agreements_due),
                       "made": figures.agreements_made, "done": figures.agreements_done},
        "chart_svg": contacts_chart(figures.per_month, w["per_month"], w["axis"])
        if charts else None,
    }


def write_peacetime_report(engine: Engine, *, start: datetime, end: datetime, zone: str,
                           fmt: str, output: Path | None, lang: str, now: datetime) -> None:
    """Write the report of [start, end) to a file or stdout."""
    check_target(output)
    figures = period_figures(engine=engine, start=start, end=end, zone=zone)
    view = peacetime_view(figures, lang, now=now, charts=fmt == "html")
    template = "peacetime.md.j2" if fmt == "md" else "peacetime.html.j2"
    with Output(output, private=False) as out:
        write_text(template, view, out.stream)
        out.publish()
