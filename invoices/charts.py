"""Charts as SVG text: plain data in, a deterministic ``<svg>`` string out.

No Flask, no script and no style sheet: every colour and size is a
presentation attribute, so the same text can be put inline in a portal page
(whose Content-Security-Policy allows no inline style or script) and in a
PDF template that WeasyPrint renders. Every text that comes in (titles,
labels, series names) is escaped, and characters XML does not allow are
dropped, so a school called ``<b>&"`` draws as those characters.

Bars are horizontal, one row per category, with the category's label above
its bar(s), so long (Chinese) labels never collide and the chart reads on a
phone as well as on paper. Values are integers: fen for money (axis and
value labels in yuan, ``¥1,234.50``) or plain counts. Negative values are
drawn leftwards from a zero line; the axis always includes zero.

* :func:`bar_chart` — one value per category;
* :func:`grouped_bar_chart` — several series side by side per category
  (claimed against received …);
* :func:`stacked_bar_chart` — several series stacked in one bar per category
  (aging buckets per school …), positives to the right and negatives to the
  left of zero.

Each chart carries a ``<title>`` and a ``<desc>`` (``role="img"``, labelled
by both) for screen readers, and a ``<title>`` on every bar for a tooltip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "COUNT",
    "MONEY",
    "PALETTE",
    "Series",
    "bar_chart",
    "format_count",
    "format_yuan",
    "grouped_bar_chart",
    "stacked_bar_chart",
]

MONEY = "fen"
COUNT = "count"
#: Okabe–Ito colours: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FONT = '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'

WIDTH = 400
PAD = 8
VALUE_COLUMN = 92  # right-hand column for each row's value
AXIS_LEFT = 30  # room for the first tick's label
TITLE_HEIGHT = 26
LEGEND_ROW = 20
LABEL_HEIGHT = 18
BAR_HEIGHT = 16
ROW_GAP = 10
AXIS_HEIGHT = 34
FONT_SIZE = 13
SMALL = 11

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class ChartError(ValueError):
    """Data a chart cannot draw (mismatched lengths, a non-integer value, a bad id)."""


@dataclass(frozen=True)
class Series:
    """One named row of values, one value per category (fen or a count)."""

    name: str
    values: Sequence[int]


# --------------------------------------------------------------------------- text


def _clean(text: object) -> str:
    return _INVALID_XML.sub("", str(text))


def esc(text: object) -> str:
    """Text for an element's content or a double-quoted attribute."""
    return (
        _clean(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def format_yuan(fen: int, *, cents: bool = True) -> str:
    """``123450 -> "¥1,234.50"``; without ``cents`` whole yuan only (``"¥1,234"``)."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    text = f"¥{yuan:,}" + (f".{rest:02d}" if cents else "")
    return sign + text


def format_count(n: int) -> str:
    return f"{n:,}"


def _fmt(value: int, unit: str) -> str:
    return format_yuan(value) if unit == MONEY else format_count(value)


def _tick_label(value: int, step: int, unit: str) -> str:
    if unit == MONEY:
        return format_yuan(value, cents=step % 100 != 0)
    return format_count(value)


def _num(x: float) -> str:
    """A coordinate with at most one decimal, the same text on every platform."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --------------------------------------------------------------------------- scale


def nice_step(span: int, ticks: int = 4, *, minimum: int = 1) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ (at least ``minimum``) that covers ``span`` in ``ticks``."""
    raw = max(-(-span // ticks), minimum, 1)
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class Scale:
    low: int
    high: int
    step: int
    x0: float
    x1: float

    def x(self, value: int) -> float:
        return self.x0 + (value - self.low) * (self.x1 - self.x0) / (self.high - self.low)

    def ticks(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


def scale_for(low: int, high: int, unit: str, x0: float, x1: float) -> Scale:
    """An axis from ``low`` to ``high`` (zero always inside), rounded out to whole steps.

    All zero (or no data) still gives a span (¥1 or 1), so nothing divides by zero.
    """
    low, high = min(low, 0), max(high, 0)
    minimum = 100 if unit == MONEY and high - low >= 400 else 1
    step = nice_step(high - low, minimum=minimum)
    lo = (low // step) * step
    hi = -(-high // step) * step
    if hi == lo:
        hi = lo + (100 if unit == MONEY else 1)
        step = hi - lo
    return Scale(lo, hi, step, x0, x1)


# --------------------------------------------------------------------------- checks


def _check(chart_id: str, labels: Sequence[str], series: Sequence[Series], unit: str) -> None:
    if not _ID.match(chart_id):
        raise ChartError(f"a chart id is a letter then letters, digits, - or _: {chart_id!r}")
    if unit not in (MONEY, COUNT):
        raise ChartError(f"unit is {MONEY!r} or {COUNT!r}, not {unit!r}")
    if not series:
        raise ChartError("a chart needs at least one series")
    for s in series:
        if len(s.values) != len(labels):
            raise ChartError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels"
            )
        for v in s.values:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ChartError(
                    f"chart values are integers (fen or counts); {v!r} in {s.name!r} is not"
                )


# --------------------------------------------------------------------------- drawing


def _open(chart_id: str, title: str, desc: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {_num(height)}" width="{WIDTH}" height="{_num(height)}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="{esc(FONT)}" font-size="{FONT_SIZE}">',
        f'<title id="{chart_id}-title">{esc(title)}</title>',
        f'<desc id="{chart_id}-desc">{esc(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{_num(height)}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="18" font-size="15" font-weight="700" fill="#1f2933">'
        f"{esc(title)}</text>",
    ]


def _legend_layout(series: Sequence[Series]) -> list[tuple[float, int]]:
    """Where each legend item goes: ``(x, row)``, wrapping onto a new row at the edge."""
    out = []
    x, row = float(PAD), 0
    for s in series:
        # A rough width: CJK characters are about a font size wide, others about half.
        wide = 16 + sum(1 if ord(c) > 0x2E7F else 0.55 for c in _clean(s.name)) * SMALL
        if x > PAD and x + wide > WIDTH - PAD:
            x, row = float(PAD), row + 1
        out.append((x, row))
        x += wide + 14
    return out


def _legend(series: Sequence[Series], y: float) -> list[str]:
    out = ['<g class="legend">']
    for i, (s, (x, row)) in enumerate(zip(series, _legend_layout(series), strict=True)):
        ry = y + row * LEGEND_ROW
        out.append(
            f'<rect x="{_num(x)}" y="{_num(ry + 3)}" width="12" height="12" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{_num(x + 16)}" y="{_num(ry + 14)}" font-size="{SMALL}" fill="#1f2933">'
            f"{esc(s.name)}</text>"
        )
    out.append("</g>")
    return out


def _axis(scale: Scale, top: float, bottom: float, unit: str, axis_label: str) -> list[str]:
    out = ['<g class="axis">']
    for tick in scale.ticks():
        x = _num(scale.x(tick))
        colour = "#9aa5b1" if tick == 0 else "#e4e7eb"
        out.append(
            f'<line x1="{x}" y1="{_num(top)}" x2="{x}" y2="{_num(bottom)}" '
            f'stroke="{colour}" stroke-width="1"/>'
            f'<text x="{x}" y="{_num(bottom + 14)}" font-size="{SMALL}" text-anchor="middle" '
            f'fill="#616e7c">{esc(_tick_label(tick, scale.step, unit))}</text>'
        )
    if axis_label:
        out.append(
            f'<text x="{_num((scale.x0 + scale.x1) / 2)}" y="{_num(bottom + 29)}" '
            f'font-size="{SMALL}" text-anchor="middle" fill="#616e7c">{esc(axis_label)}</text>'
        )
    out.append("</g>")
    return out


def _bar(scale: Scale, start: int, end: int, y: float, height: float, colour: str, tip: str) -> str:
    a, b = scale.x(start), scale.x(end)
    left, width = min(a, b), abs(b - a)
    return (
        f'<rect x="{_num(left)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" '
        f'fill="{colour}"><title>{esc(tip)}</title></rect>'
    )


def _value_text(text: str, y: float, *, bold: bool = False) -> str:
    weight = ' font-weight="700"' if bold else ""
    return (
        f'<text x="{WIDTH - PAD}" y="{_num(y)}" text-anchor="end" fill="#1f2933"{weight}>'
        f"{esc(text)}</text>"
    )


def _draw(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str,
    desc: str | None,
    axis_label: str,
    stacked: bool,
    total_label: str | None = None,
) -> str:
    _check(chart_id, labels, series, unit)
    labels = [str(label) for label in labels]
    grouped = len(series) > 1 and not stacked
    bars_per_row = len(series) if grouped else 1
    legend = len(series) > 1
    legend_rows = 1 + max(row for _, row in _legend_layout(series)) if legend else 0
    top = TITLE_HEIGHT + legend_rows * LEGEND_ROW + 4
    row_height = LABEL_HEIGHT + bars_per_row * BAR_HEIGHT + (bars_per_row - 1) * 2 + ROW_GAP
    rows = max(len(labels), 1)
    plot_bottom = top + rows * row_height
    height = plot_bottom + AXIS_HEIGHT

    if stacked:
        highs = [sum(v for s in series if (v := s.values[i]) > 0) for i in range(len(labels))]
        lows = [sum(v for s in series if (v := s.values[i]) < 0) for i in range(len(labels))]
    else:
        highs = [max(s.values[i] for s in series) for i in range(len(labels))]
        lows = [min(s.values[i] for s in series) for i in range(len(labels))]
    scale = scale_for(
        min(lows, default=0), max(highs, default=0), unit, AXIS_LEFT, WIDTH - PAD - VALUE_COLUMN
    )
    if desc is None:
        desc = _describe(labels, series, unit, stacked)
    out = _open(chart_id, title, desc, height)
    if legend:
        out += _legend(series, TITLE_HEIGHT)
    out += _axis(scale, top - 2, plot_bottom - ROW_GAP + 2, unit, axis_label)
    out.append('<g class="bars">')
    if not labels:
        out.append(
            f'<text x="{_num((scale.x0 + scale.x1) / 2)}" y="{_num(top + 22)}" '
            f'text-anchor="middle" fill="#616e7c">—</text>'
        )
    for i, label in enumerate(labels):
        y = top + i * row_height
        out.append(f'<g class="row" data-label="{esc(label)}">')
        out.append(
            f'<text x="{PAD}" y="{_num(y + LABEL_HEIGHT - 5)}" fill="#1f2933">{esc(label)}</text>'
        )
        bar_y = y + LABEL_HEIGHT
        if stacked:
            up = down = 0
            for k, s in enumerate(series):
                v = s.values[i]
                if v == 0:
                    continue
                start = up if v > 0 else down
                end = start + v
                if v > 0:
                    up = end
                else:
                    down = end
                tip = f"{label} · {s.name}: {_fmt(v, unit)}"
                out.append(
                    _bar(scale, start, end, bar_y, BAR_HEIGHT, PALETTE[k % len(PALETTE)], tip)
                )
            total = sum(s.values[i] for s in series)
            text = _fmt(total, unit)
            if total_label:
                text = f"{total_label} {text}"
            out.append(_value_text(text, y + LABEL_HEIGHT - 5, bold=True))
        else:
            for k, s in enumerate(series):
                v = s.values[i]
                by = bar_y + k * (BAR_HEIGHT + 2)
                name = f" · {s.name}" if grouped else ""
                tip = f"{label}{name}: {_fmt(v, unit)}"
                colour = PALETTE[k % len(PALETTE)]
                if v != 0:
                    out.append(_bar(scale, 0, v, by, BAR_HEIGHT, colour, tip))
                out.append(_value_text(_fmt(v, unit), by + BAR_HEIGHT - 3))
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str, stacked: bool) -> str:
    """The numbers in words, for screen readers: ``a: s1 ¥1.00, s2 ¥2.00; b: …``."""
    if not labels:
        return "—"
    parts = []
    for i, label in enumerate(labels):
        if len(series) == 1:
            parts.append(f"{label}: {_fmt(series[0].values[i], unit)}")
        else:
            values = ", ".join(f"{s.name} {_fmt(s.values[i], unit)}" for s in series)
            parts.append(f"{label}: {values}")
    return "; ".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    unit: str = MONEY,
    desc: str | None = None,
    axis_label: str = "",
    name: str = "",
) -> str:
    """One bar per label. ``values`` are fen (``unit=MONEY``) or counts (``unit=COUNT``)."""
    return _draw(
        chart_id,
        title,
        labels,
        [Series(name or title, values)],
        unit=unit,
        desc=desc,
        axis_label=axis_label,
        stacked=False,
    )


def grouped_bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = MONEY,
    desc: str | None = None,
    axis_label: str = "",
) -> str:
    """For each label one bar per series, side by side (one under the other), with a legend."""
    return _draw(
        chart_id, title, labels, series, unit=unit, desc=desc, axis_label=axis_label, stacked=False
    )


def stacked_bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = MONEY,
    desc: str | None = None,
    axis_label: str = "",
    total_label: str | None = None,
) -> str:
    """For each label one bar of the series stacked, and the total in the value column."""
    return _draw(
        chart_id,
        title,
        labels,
        series,
        unit=unit,
        desc=desc,
        axis_label=axis_label,
        stacked=True,
        total_label=total_label,
    )
