"""Areas and distances, the two functions expressions may call: `within` and `distance_km`."""

from __future__ import annotations

import math
import re
from typing import Any

from playbook.records import Record

_CBS = re.compile(r"^(?:GM|WK|BU)(\d+)$", re.IGNORECASE)


def _area_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, Record) and "area" in value:
        area = value["area"]
        return area if isinstance(area, str) and area else None
    return None


def within(a: Any, b: Any) -> bool:
    """True when area `a` lies in area `b` (equal, free code below `b/`, or CBS digits prefix)."""
    area, outer = _area_of(a), _area_of(b)
    if area is None or outer is None:
        return False
    if area == outer or area.startswith(outer + "/"):
        return True
    inner_cbs, outer_cbs = _CBS.match(area), _CBS.match(outer)
    if inner_cbs and outer_cbs:
        return inner_cbs.group(1).startswith(outer_cbs.group(1))
    return False


def _point(thing: Any) -> tuple[float, float] | None:
    try:
        lat, lon = thing["lat"], thing["lon"]
    except (TypeError, KeyError, IndexError):
        lat = getattr(thing, "lat", None)
        lon = getattr(thing, "lon", None)
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return float(lat), float(lon)


def distance_km(x: Any, y: Any) -> float | None:
    """Great-circle distance in km between two things with `lat`/`lon`; None when one lacks."""
    p, q = _point(x), _point(y)
    if p is None or q is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*p, *q))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
