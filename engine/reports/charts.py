"""Charts drawn with matplotlib (Agg, no display), from aggregated series only.

Time runs on a "symlog" axis: linear over the first hour, where the first messages, the
escalation steps and most acknowledgements fall, and logarithmic after it, so that the
aftercare of day 1, 7 and 30 still fits on the same line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from engine.reports.i18n import ROLES, words

ROLE_COLOURS = {"affected": "#1f4e79", "at_risk": "#b45f06", "bridging": "#38761d",
                "informed": "#7f7f7f", "all": "#000000"}
INK = "#333333"
GRID = "#dddddd"
LANES_PER_CHART = 30
STYLE = {
    "font.family": ["Noto Sans", "DejaVu Sans", "sans-serif"],
    "font.size": 8,
    "axes.edgecolor": "#999999",
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "svg.fonttype": "none",  # text as text: a tenth of the size and time of glyph paths
    "svg.hashsalt": "verbinder",  # the same chart gives the same SVG
}
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Lane:
    """One community on the swimlane chart: when things happened, in minutes."""

    name: str
    role: str
    end: float | None  # acknowledged at (None: never)
    sent: list[float]
    delivered: list[float]
    staff: list[float]
    needs: list[float]
    followups: list[float]


def plain_label(text: str, limit: int = 46) -> str:
    """A name as a chart label: no control characters, no mathtext, bounded."""
    text = _CONTROL.sub("", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _ticks(limit: float, lang: str) -> tuple[list[float], list[str]]:
    hour = "u" if lang == "nl" else "h"
    marks = [(0, "0"), (15, "15 min"), (30, "30 min"), (60, f"1 {hour}"), (120, f"2 {hour}"),
             (360, f"6 {hour}"), (1440, "1 d"), (10080, "7 d"), (43200, "30 d"),
             (129600, "90 d")]
    shown = [(m, t) for m, t in marks if m <= limit * 1.05]
    return [m for m, _ in shown], [t for _, t in shown]


def _time_axis(ax: plt.Axes, limit: float, lang: str) -> None:
    ax.set_xscale("symlog", linthresh=60, linscale=1.2)
    ax.set_xlim(0, limit)
    ticks, labels = _ticks(limit, lang)
    ax.set_xticks(ticks, labels)
    ax.minorticks_off()
    ax.set_xlabel(words(lang)["minutes_axis"])


def axis_limit(values: Sequence[float]) -> float:
    """The right end of a time axis: a little past the last moment, at least an hour."""
    last = max(values, default=0.0)
    return max(60.0, last * 1.15)


def reach_chart(series: dict[str, tuple[int, list[float]]], lang: str,
                limit: float | None = None) -> str:
    """SVG: the share of communities acknowledged against time since declaration, per role."""
    w = words(lang)
    every = [m for _, acks in series.values() for m in acks]
    limit = limit or axis_limit(every)
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 3.0))
        ax = fig.add_subplot()
        for role, (total, acks) in series.items():
            if not total:
                continue
            xs = [0.0] + [m for m in acks] + [limit]
            ys = [0.0] + [(n + 1) / total for n in range(len(acks))] + [len(acks) / total]
            name = ROLES[lang].get(role, role)
            ax.step(xs, ys, where="post", color=ROLE_COLOURS.get(role, INK),
                    linewidth=2.0 if role == "all" else 1.4,
                    linestyle="--" if role == "all" else "-",
                    label=plain_label(f"{name} ({len(acks)}/{total})"))
        _time_axis(ax, limit, lang)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_ylabel(w["reach_axis"])
        ax.grid(True, color=GRID, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, frameon=False,
                  fontsize=7, handlelength=2.4)
        fig.tight_layout()
        return _svg(fig)


def swimlane_charts(lanes: list[Lane], lang: str) -> list[str]:
    """SVGs: a lane per community (at most LANES_PER_CHART per chart), in the given order."""
    moments = [m for lane in lanes for m in (*lane.sent, *lane.staff, *lane.needs,
                                              *lane.followups, lane.end or 0.0)]
    limit = axis_limit(moments)
    return [swimlane_chart(lanes[i:i + LANES_PER_CHART], lang, limit)
            for i in range(0, len(lanes), LANES_PER_CHART)]


def swimlane_chart(lanes: list[Lane], lang: str, limit: float) -> str:
    """SVG: one lane per community with its messages, escalations, answers and acknowledgement."""
    w = words(lang)
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 0.9 + 0.24 * max(len(lanes), 3)))
        ax = fig.add_subplot()
        ys = list(range(len(lanes)))
        for y, lane in zip(ys, lanes, strict=True):
            reached = lane.end is not None
            ax.plot([0, lane.end if reached else limit], [y, y], linewidth=5,
                    color="#d5e8d4" if reached else "#f4d6cf", solid_capstyle="butt",
                    zorder=1)
        _marks(ax, ys, lanes, "sent", "o", "none", "#4a6fa5", w["lane_message"])
        _marks(ax, ys, lanes, "delivered", "o", "#4a6fa5", "#4a6fa5", w["lane_delivered"])
        _marks(ax, ys, lanes, "staff", "^", "#b45f06", "#b45f06", w["lane_staff"])
        _marks(ax, ys, lanes, "needs", "s", "#6a4c93", "#6a4c93", w["lane_needs"])
        _marks(ax, ys, lanes, "followups", "|", "#555555", "#555555", w["lane_followup"])
        acks = [(lane.end, y) for y, lane in zip(ys, lanes, strict=True) if lane.end is not None]
        ax.scatter([a for a, _ in acks], [y for _, y in acks], marker="D", s=22,
                   color="#2e7d32", zorder=4, label=w["lane_ack"])
        _time_axis(ax, limit, lang)
        ax.set_yticks(ys, [plain_label(f"{lane.name} · {ROLES[lang].get(lane.role, lane.role)}")
                           for lane in lanes])
        ax.set_ylim(len(lanes) - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(True, axis="x", color=GRID, linewidth=0.6)
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=6, frameon=False,
                  fontsize=7, handletextpad=0.3, columnspacing=1.2)
        fig.tight_layout()
        return _svg(fig)


def _marks(ax: plt.Axes, ys: list[int], lanes: list[Lane], attr: str, marker: str,
           face: str, edge: str, name: str) -> None:
    xs: list[float] = []
    ys_out: list[int] = []
    for y, lane in zip(ys, lanes, strict=True):
        values = getattr(lane, attr)
        xs += values
        ys_out += [y] * len(values)
    if not xs:
        return
    if marker in "|_x+":  # unfilled markers take one colour
        ax.scatter(xs, ys_out, marker=marker, s=30, color=edge, linewidths=1.2, zorder=3,
                   label=name)
        return
    ax.scatter(xs, ys_out, marker=marker, s=18, facecolors=face, edgecolors=edge,
               linewidths=1.0, zorder=3, label=name)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight",
                pad_inches=0.05)
    return _COMMENT.sub("", buffer.getvalue())  # matplotlib repeats each text in a comment


KIND_COLOURS = ("#1f4e79", "#b45f06", "#38761d", "#7f7f7f", "#741b47", "#0b5394", "#bf9000")


def contacts_chart(per_month: dict[str, dict[str, int]], title: str, axis: str) -> str:
    """SVG: peace-time contacts per month, stacked per kind of community."""
    months = list(per_month)
    kinds = sorted({k for counts in per_month.values() for k in counts})
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 3.0))
        ax = fig.add_subplot()
        bottom = [0] * len(months)
        for n, kind in enumerate(kinds):
            values = [per_month[m].get(kind, 0) for m in months]
            ax.bar(range(len(months)), values, bottom=bottom,
                   color=KIND_COLOURS[n % len(KIND_COLOURS)], label=plain_label(kind))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(range(len(months)), months)
        ax.set_ylabel(plain_label(axis))
        ax.set_title(plain_label(title, 80), fontsize=9)
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(True, axis="y", color=GRID, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        if kinds:
            ax.legend(loc="upper left", frameon=False, fontsize=7)
        fig.tight_layout()
        return _svg(fig)
