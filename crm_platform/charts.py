"""Charts as inline SVG, drawn on the server: no JavaScript library, no external assets.

Templates call them through the macros in ``templates/_charts.html``; each chart is a
``<figure>`` with a responsive SVG (``viewBox``, width 100%) followed by a visually hidden
table with the same numbers for screen readers. Values are plain numbers; ``unit`` is put
after them in labels (``"%"``, ``" USD"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

PALETTE: tuple[str, ...] = (
    "#2f6fec",
    "#1a9e77",
    "#e8833a",
    "#8e5bd1",
    "#d6455d",
    "#2bb5c9",
    "#b59a1a",
    "#667085",
)
WIDTH = 640
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 14, 46


@dataclass(frozen=True)
class Series:
    """One named row of values in a multi-series chart."""

    name: str
    values: tuple[float, ...]


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 to at least ``maximum`` (0, 25, 50, 75, 100 ...)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def format_number(value: float, unit: str = "") -> str:
    """A short label for an axis or tooltip: 1200 → "1.2k", 3500000 → "3.5M"."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"
    return f"{sign}{text}{unit}"


def _series(series: Sequence[Any]) -> list[Series]:
    out = []
    for item in series:
        if isinstance(item, Series):
            out.append(item)
        else:
            values = tuple(float(v or 0) for v in item["values"])
            out.append(Series(str(item["name"]), values))
    return out


def _axis(ticks: list[float], height: int, unit: str) -> tuple[list[str], float]:
    """Grid lines and y labels; returns the SVG parts and the pixels per value unit."""
    plot_h = height - PAD_TOP - PAD_BOTTOM
    scale = plot_h / ticks[-1]
    parts = []
    for tick in ticks:
        y = height - PAD_BOTTOM - tick * scale
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="chart-grid"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">'
            f"{escape(format_number(tick, unit))}</text>"
        )
    return parts, scale


def _x_labels(labels: Sequence[str], step: float, height: int) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))
    parts = []
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = PAD_LEFT + step * (i + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{height - PAD_BOTTOM + 16}" text-anchor="middle" '
            f'class="chart-axis">{escape(str(label)[:14])}</text>'
        )
    return parts


def _legend(series: list[Series]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<li><span class="chart-swatch" style="background:{PALETTE[i % len(PALETTE)]}">'
        f"</span>{escape(s.name)}</li>"
        for i, s in enumerate(series)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _table(labels: Sequence[str], series: list[Series], unit: str) -> str:
    head = "".join(f"<th>{escape(s.name)}</th>" for s in series)
    rows = "".join(
        f"<tr><th>{escape(str(label))}</th>"
        + "".join(f"<td>{escape(format_number(s.values[i], unit))}</td>" for s in series)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return f'<table class="visually-hidden"><tr><th></th>{head}</tr>{rows}</table>'


def _figure(title: str, svg: str, extra: str, kind: str) -> Markup:
    caption = f"<figcaption>{escape(title)}</figcaption>" if title else ""
    return Markup(f'<figure class="chart chart-{kind}">{caption}{svg}{extra}</figure>')


def _svg(height: int, title: str, body: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">{body}</svg>'
    )


def _link(links: Sequence[Any] | None, i: int, j: int = 0) -> str:
    """The drill-down address of label ``i`` (series ``j``), or ``""``: ``links[i]`` is an
    address for every series of the label or a sequence of one address per series."""
    if not links or i >= len(links) or not links[i]:
        return ""
    entry = links[i]
    if isinstance(entry, str):
        return entry
    return str(entry[j]) if j < len(entry) and entry[j] else ""


def _linked(mark: str, href: str) -> str:
    """``mark`` wrapped in a link to ``href`` (unchanged without one)."""
    if not href:
        return mark
    return f'<a href="{escape(href)}" class="chart-link">{mark}</a>'


def _empty(labels: Sequence[str], series: list[Series]) -> bool:
    return not labels or all(v == 0 for s in series for v in s.values)


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Any],
    title: str = "",
    unit: str = "",
    height: int = 240,
    links: Sequence[Any] | None = None,
) -> Markup:
    """Vertical bars, one per label, with the series stacked on each other.

    ``links`` makes each bar a link (a drill-down): one address per label, or per label a
    sequence of one address per series."""
    rows = _series(series)
    labels = [str(label) for label in labels]
    if _empty(labels, rows):
        return _figure(title, '<p class="muted chart-empty">—</p>', "", "bar")
    totals = [sum(max(0.0, s.values[i]) for s in rows) for i in range(len(labels))]
    ticks = nice_ticks(max(totals))
    parts, scale = _axis(ticks, height, unit)
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / len(labels)
    bar_w = max(2.0, step * 0.7)
    for i, label in enumerate(labels):
        base = height - PAD_BOTTOM
        x = PAD_LEFT + step * i + (step - bar_w) / 2
        for j, s in enumerate(rows):
            value = max(0.0, s.values[i])
            h = value * scale
            base -= h
            tip = f"{label} · {s.name}: {format_number(s.values[i], unit)}"
            rect = (
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}" rx="2"><title>{escape(tip)}</title></rect>'
            )
            parts.append(_linked(rect, _link(links, i, j)))
    parts += _x_labels(labels, step, height)
    extra = _legend(rows) + _table(labels, rows, unit)
    return _figure(title, _svg(height, title, "".join(parts)), extra, "bar")


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str = "",
    unit: str = "",
    height: int = 220,
    links: Sequence[Any] | None = None,
) -> Markup:
    """Vertical bars, one per label (``links``: a drill-down address per label)."""
    return stacked_bars(labels, [Series(title or "", tuple(values))], title, unit, height, links)


def lines(
    labels: Sequence[str],
    series: Sequence[Any],
    title: str = "",
    unit: str = "",
    height: int = 240,
    links: Sequence[Any] | None = None,
) -> Markup:
    """One polyline per series over the labels (months, days ...), with dots on values
    (``links``: each dot links to an address, as for :func:`stacked_bars`)."""
    rows = _series(series)
    labels = [str(label) for label in labels]
    if _empty(labels, rows):
        return _figure(title, '<p class="muted chart-empty">—</p>', "", "line")
    ticks = nice_ticks(max(max(s.values) for s in rows))
    parts, scale = _axis(ticks, height, unit)
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / len(labels)
    for j, s in enumerate(rows):
        colour = PALETTE[j % len(PALETTE)]
        points = [
            (PAD_LEFT + step * (i + 0.5), height - PAD_BOTTOM - max(0.0, v) * scale)
            for i, v in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, ((x, y), label, v) in enumerate(zip(points, labels, s.values, strict=False)):
            tip = f"{label} · {s.name}: {format_number(v, unit)}"
            href = _link(links, i, j)
            dot = (
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{5 if href else 3}" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
            parts.append(_linked(dot, href))
    parts += _x_labels(labels, step, height)
    extra = _legend(rows) + _table(labels, rows, unit)
    return _figure(title, _svg(height, title, "".join(parts)), extra, "line")


def donut(
    labels: Sequence[str],
    values: Sequence[float],
    title: str = "",
    unit: str = "",
    links: Sequence[Any] | None = None,
) -> Markup:
    """Shares of a whole as a ring, with a legend that carries the numbers (``links``: each
    slice and legend entry links to an address per label)."""
    labels = [str(label) for label in labels]
    nums = [max(0.0, float(v or 0)) for v in values]
    total = sum(nums)
    rows = [Series(title or "", tuple(nums))]
    if total <= 0:
        return _figure(title, '<p class="muted chart-empty">—</p>', "", "donut")
    radius, circumference = 60.0, 2 * math.pi * 60.0
    offset, parts = 0.0, []
    for i, (label, value) in enumerate(zip(labels, nums, strict=False)):
        length = circumference * value / total
        tip = f"{label}: {format_number(value, unit)} ({value / total:.0%})"
        ring = (
            f'<circle r="{radius}" cx="90" cy="90" fill="none" stroke-width="26" '
            f'stroke="{PALETTE[i % len(PALETTE)]}" '
            f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 90 90)">'
            f"<title>{escape(tip)}</title></circle>"
        )
        parts.append(_linked(ring, _link(links, i)))
        offset += length
    parts.append(
        f'<text x="90" y="96" text-anchor="middle" class="chart-total">'
        f"{escape(format_number(total, unit))}</text>"
    )
    svg = (
        f'<svg viewBox="0 0 180 180" class="chart-donut-svg" role="img" '
        f'aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )
    legend = "".join(
        f'<li><span class="chart-swatch" style="background:{PALETTE[i % len(PALETTE)]}">'
        f"</span>{_legend_label(label, _link(links, i))} "
        f"<strong>{escape(format_number(v, unit))}</strong></li>"
        for i, (label, v) in enumerate(zip(labels, nums, strict=False))
    )
    extra = f'<ul class="chart-legend">{legend}</ul>' + _table(labels, rows, unit)
    return _figure(title, svg, extra, "donut")


def _legend_label(label: str, href: str) -> str:
    if not href:
        return str(escape(label))
    return f'<a href="{escape(href)}">{escape(label)}</a>'


def funnel(
    labels: Sequence[str],
    values: Sequence[float],
    title: str = "",
    unit: str = "",
    links: Sequence[Any] | None = None,
) -> Markup:
    """Stages of a funnel, widest first: one centred bar per label, its width the value's
    share of the largest, with the value and the conversion from the previous stage
    (``links``: a drill-down address per label)."""
    labels = [str(label) for label in labels]
    nums = [max(0.0, float(v or 0)) for v in values]
    rows = [Series(title or "", tuple(nums))]
    if not labels or max(nums, default=0) <= 0:
        return _figure(title, '<p class="muted chart-empty">—</p>', "", "funnel")
    top, row_h, gap, label_w = max(nums), 30, 6, 150
    plot_w = WIDTH - label_w - 90
    height = len(labels) * (row_h + gap) + gap
    parts = []
    for i, (label, value) in enumerate(zip(labels, nums, strict=False)):
        y = gap + i * (row_h + gap)
        w = max(2.0, plot_w * value / top)
        x = label_w + (plot_w - w) / 2
        # the conversion from the previous stage, when this stage is a part of it
        share = f" ({value / nums[i - 1]:.0%})" if i and 0 < value <= nums[i - 1] else ""
        tip = f"{label}: {format_number(value, unit)}{share}"
        bar = (
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" rx="3" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
        )
        parts.append(_linked(bar, _link(links, i)))
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" '
            f'class="chart-axis">{escape(label[:22])}</text>'
            f'<text x="{WIDTH - 84}" y="{y + row_h / 2 + 4:.1f}" class="chart-axis">'
            f"{escape(format_number(value, unit) + share)}</text>"
        )
    return _figure(title, _svg(height, title, "".join(parts)), _table(labels, rows, unit), "funnel")


def register(app: Any) -> None:
    """Make the chart functions available to templates (used by ``_charts.html``)."""
    app.jinja_env.globals.update(
        crm_chart_bars=bars,
        crm_chart_lines=lines,
        crm_chart_stacked=stacked_bars,
        crm_chart_donut=donut,
        crm_chart_funnel=funnel,
    )
