"""Charts as static SVG, drawn on the server with pygal.

pygal writes a configuration <script> and tooltips into every chart; we switch the
tooltips off, give it no script files (`js=[]`) and drop the remaining inline script,
so the SVG is a plain picture that works without JavaScript and under our CSP. The
same numbers are always shown in an HTML table beside the chart.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

import pygal
from pygal.style import Style

# pygal puts a legacy import hook for its map plugins (which we do not use) on
# sys.meta_path; it has no find_spec, so importlib-based importers (pytest's
# importlib mode among them) fail on every later import. Take it off again.
sys.meta_path[:] = [hook for hook in sys.meta_path if type(hook).__module__ != "pygal"]

__all__ = ["bar_chart", "line_chart", "progress_chart"]

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#555555",
    colors=("#1f5f8b", "#c26b00", "#2e7d32", "#7b1fa2", "#b71c1c"),
    font_family="Arial, Helvetica, sans-serif",
    title_font_size=18,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
)


def _config(title: str) -> dict[str, object]:
    return {
        "title": title,
        "style": _STYLE,
        "disable_xml_declaration": True,
        "js": [],
        "tooltip_fancy_mode": False,
        "print_values": False,
        "width": 800,
        "height": 360,
        "legend_at_bottom": True,
        "x_label_rotation": 30,
        "truncate_label": 28,
    }


def _render(chart: pygal.graph.graph.Graph) -> str:
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    horizontal: bool = False,
) -> str:
    """Bars; `horizontal` for long names (hosts), one band per name, top to bottom."""
    if horizontal:
        rows = max(len(labels), 1) * max(len(series), 1)
        config = _config(title) | {
            "x_label_rotation": 0,
            "height": max(360, 120 + 18 * rows),
            "truncate_label": 40,
        }
        chart = pygal.HorizontalBar(**config)
        # pygal draws the first label at the bottom; reverse so the list reads downwards.
        labels = list(reversed(labels))
        series = {name: list(reversed(values)) for name, values in series.items()}
    else:
        chart = pygal.Bar(**_config(title))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart)


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> str:
    chart = pygal.Line(**_config(title))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart)


def progress_chart(
    title: str,
    labels: Sequence[str],
    actual: Sequence[float],
    expected: Sequence[float],
    *,
    names: tuple[str, str] = ("recorded", "expected"),
) -> str:
    """Milestones as horizontal bars in percent of their target (100 = reached)."""
    config = _config(title) | {"range": (0, 100), "x_label_rotation": 0, "stack_from_top": True}
    chart = pygal.HorizontalStackedBar(**config)
    chart.x_labels = list(labels)
    chart.add(names[0], [min(v, 100.0) for v in actual])
    chart.add(
        names[1], [min(e, max(100.0 - a, 0.0)) for a, e in zip(actual, expected, strict=True)]
    )
    return _render(chart)
