"""Bar charts as inline SVG, drawn on the server: no CDN, no script, nothing the CSP has to allow.

Colours and fonts come from classes styled in app.css (``style=`` attributes are refused by the
CSP). Geometry uses SVG presentation attributes in viewBox units, so the chart scales with its
box. Every bar carries a ``<title>`` (a tooltip, and text for screen readers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 170
LEFT, RIGHT, TOP, BOTTOM = 70, 8, 12, 30


@dataclass(frozen=True, slots=True)
class ChartSeries:
    name: str
    values: Sequence[int]
    css_class: str = "bar"


@dataclass(frozen=True, slots=True)
class Tick:
    index: int
    text: str
    major: bool = True  # minor ticks are hidden on narrow screens


def nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 times 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover (the loop always returns)


def compact(value: int) -> str:
    """1234 → 1.2k, 3400000 → 3.4M: axis labels stay short."""
    for divisor, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= divisor:
            text = f"{value / divisor:.1f}".removesuffix(".0")
            return text + suffix
    return str(value)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    *, title: str, labels: Sequence[str], series: Sequence[ChartSeries], ticks: Sequence[Tick]
) -> Markup:
    """Stacked bars, one slot per label; ``series`` are stacked bottom to top in order."""
    count = len(labels)
    if any(len(s.values) != count for s in series):
        raise ValueError("every series needs one value per label")
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    bar_w = max(slot * 0.78, 1.0)
    base = TOP + plot_h
    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        gy = _num(base - plot_h * fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{gy}" x2="{WIDTH - RIGHT}" y2="{gy}"/>')
        if (top * fraction).is_integer():  # counts are whole: no "0.5 requests" (and no rounded lie)
            label = compact(int(top * fraction))
            parts.append(
                f'<text class="axis" x="{LEFT - 8}" y="{gy}" text-anchor="end" dy="0.35em">{label}</text>'
            )
    for i in range(count):
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = float(base)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            tip = escape(f"{labels[i]} · {s.name}: {value:,}")
            parts.append(
                f'<rect class="{escape(s.css_class)}" x="{_num(x)}" y="{_num(y)}" '
                f'width="{_num(bar_w)}" height="{_num(h)}"><title>{tip}</title></rect>'
            )
    for tick in ticks:
        if 0 <= tick.index < count:
            tx = _num(LEFT + slot * tick.index + slot / 2)
            css = "axis" if tick.major else "axis minor"
            text = escape(tick.text)
            parts.append(f'<text class="{css}" x="{tx}" y="{HEIGHT - 8}" text-anchor="middle">{text}</text>')
    if not any(totals):
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" '
            'text-anchor="middle">No requests in this period</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated text above is escaped)
