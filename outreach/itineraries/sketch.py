"""A sketch of the day's route as SVG, drawn from the venues' coordinates only.

No map tiles, no network: numbered stops joined by the legs (dashed on foot, solid by
bus), a north arrow and a scale bar, so parents see the order and the distances on a
printed page. Pure: coordinates in, an SVG string out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from babel.numbers import format_decimal

from outreach.itineraries.planner import haversine_km
from outreach.itineraries.schemas import ItineraryOut
from outreach.languages import babel_locale

__all__ = ["RouteStop", "route_svg", "stops_of"]

_NICE_KM = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100)


@dataclass(frozen=True, slots=True)
class RouteStop:
    name: str
    lat: float
    lon: float
    caption: str = ""  # e.g. "09:00-10:30"


def stops_of(it: ItineraryOut) -> list[RouteStop]:
    """The visits still on, in order, that have coordinates."""
    stops = []
    for visit in it.visits:
        venue = visit.venue
        if visit.status not in ("pending", "confirmed", "waitlisted") or venue is None:
            continue
        if venue.lat is None or venue.lon is None:
            continue
        caption = f"{visit.starts_at:%H:%M}-{visit.ends_at:%H:%M}"
        stops.append(RouteStop(visit.host_name, venue.lat, venue.lon, caption))
    return stops


def _scale_km(span_km: float) -> float:
    """A round length of about a quarter of the drawing's width."""
    target = max(span_km / 4, 0.01)
    return min(_NICE_KM, key=lambda k: abs(math.log(k / target)))


def route_svg(
    stops: Sequence[RouteStop],
    *,
    mode: str = "foot",
    width: int = 640,
    height: int = 420,
    title: str = "Route",
    title_id: str = "route-title",
    locale: str = "de",
) -> str:
    """The route through `stops` as a standalone SVG document (a string).

    `title_id` must be unique in the page when several sketches share one; `locale` writes
    the distances ("0,9 km" in German, "0.9 km" in English).
    """
    pad, label_room = 48, 150
    lat0 = sum(s.lat for s in stops) / len(stops) if stops else 0.0
    kx = math.cos(math.radians(lat0))
    # Equirectangular projection around the mean latitude: fine for a town or a district.
    xs = [s.lon * kx for s in stops]
    ys = [s.lat for s in stops]
    span_x = (max(xs) - min(xs)) if stops else 0.0
    span_y = (max(ys) - min(ys)) if stops else 0.0
    span = max(span_x, span_y, 0.002)  # ~200 m: one stop, or stops at one place
    inner_w, inner_h = width - 2 * pad - label_room, height - 2 * pad - 30
    scale = min(inner_w, inner_h) / span
    cx = (max(xs) + min(xs)) / 2 if stops else 0.0
    cy = (max(ys) + min(ys)) / 2 if stops else 0.0

    def point(i: int) -> tuple[float, float]:
        x = pad + inner_w / 2 + (xs[i] - cx) * scale
        y = pad + inner_h / 2 - (ys[i] - cy) * scale
        return round(x, 1), round(y, 1)

    points = [point(i) for i in range(len(stops))]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" aria-labelledby="{escape(title_id)}"'
        ' font-family="sans-serif" font-size="13">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff" stroke="#999"/>',
    ]
    if len(points) > 1:
        dash = ' stroke-dasharray="8 6"' if mode == "foot" else ""
        path = " ".join(f"{x},{y}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="#1f4e79" stroke-width="3"{dash}'
            ' stroke-linejoin="round" stroke-linecap="round"/>'
        )
        for i in range(len(stops) - 1):
            (x1, y1), (x2, y2) = points[i], points[i + 1]
            km = haversine_km(stops[i].lat, stops[i].lon, stops[i + 1].lat, stops[i + 1].lon)
            # Beside the leg's middle (off the line, so legs that fold back stay legible).
            length = math.hypot(x2 - x1, y2 - y1) or 1.0
            nx, ny = (y2 - y1) / length * 10, -(x2 - x1) / length * 10
            anchor = "middle" if abs(nx) < abs(ny) else ("start" if nx > 0 else "end")
            distance = format_decimal(km, "0.0", locale=babel_locale(locale))
            parts.append(
                f'<text x="{round((x1 + x2) / 2 + nx, 1)}" y="{round((y1 + y2) / 2 + ny + 4, 1)}"'
                f' fill="#1f4e79" font-size="11" text-anchor="{anchor}">{distance} km</text>'
            )
    for n, ((x, y), stop) in enumerate(zip(points, stops, strict=True), start=1):
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="12" fill="#1f4e79" stroke="#fff" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{x}" y="{y + 4.5}" fill="#fff" font-weight="bold"'
            f' text-anchor="middle">{n}</text>'
        )
        label = escape(stop.name if len(stop.name) <= 34 else stop.name[:33] + "…")
        parts.append(f'<text x="{x + 17}" y="{y - 2}" fill="#000">{label}</text>')
        if stop.caption:
            parts.append(
                f'<text x="{x + 17}" y="{y + 13}" fill="#444" font-size="11">'
                f"{escape(stop.caption)}</text>"
            )
    # North arrow, top right.
    nx, ny = width - 28, 24
    parts.append(
        f'<path d="M{nx},{ny} l-7,20 l7,-5 l7,5 z" fill="#333"/>'
        f'<text x="{nx}" y="{ny + 34}" text-anchor="middle" font-size="12">N</text>'
    )
    # Scale bar, bottom left: km per pixel from the projection (1 degree ~ 111.2 km).
    km_per_px = 111.195 / scale
    bar_km = _scale_km(inner_w * km_per_px)
    bar_px = round(bar_km / km_per_px, 1)
    bx, by = pad, height - 22
    label = (
        f"{bar_km * 1000:.0f} m"
        if bar_km < 1
        else f"{format_decimal(bar_km, '0.##', locale=babel_locale(locale))} km"
    )
    parts.append(
        f'<path d="M{bx},{by - 5} v5 h{bar_px} v-5" fill="none" stroke="#333" stroke-width="2"/>'
        f'<text x="{bx + bar_px + 6}" y="{by}" font-size="11">{label}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
