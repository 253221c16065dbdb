"""Chart geometry for the staff dashboards: where each bar, point, whisker and tick goes.

Pure arithmetic in SVG user units; the markup lives in ``templates/web/staff/_charts.html``.
Every chart is horizontal (one row a label), so long labels such as a detector's kind and
version or a seller's name stay readable, and every number drawn is also in the chart's table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
ROW_HEIGHT = 26
LABEL_WIDTH = 190
VALUE_WIDTH = 130
TOP = 8
AXIS_HEIGHT = 26


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    label: str
    value_label: str
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars from ``plot_left``; ``bars[i].y`` is the top of row i."""

    width: int
    height: int
    plot_left: int
    plot_width: int
    row_height: int
    bar_height: int
    axis_y: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class IntervalRow:
    """One estimate: its point and whisker ends in x; all None when there is nothing to estimate."""

    label: str
    value_label: str
    y: float
    point_x: float | None
    low_x: float | None
    high_x: float | None


@dataclass(frozen=True)
class IntervalChart:
    width: int
    height: int
    plot_left: int
    plot_width: int
    row_height: int
    axis_y: float
    rows: tuple[IntervalRow, ...]
    ticks: tuple[Tick, ...]


def nice_step(largest: float, count: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``count`` intervals up to ``largest``."""
    if largest <= 0:
        return 1.0
    raw = largest / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _tick_label(value: float, unit: str) -> str:
    text = f"{value:g}" if value < 1e6 else f"{value:.3g}"
    return f"{text}{unit}"


def _plot_width(width: int) -> int:
    return width - LABEL_WIDTH - VALUE_WIDTH


def bar_chart(rows: Sequence[tuple[str, float, str]], unit: str = "", width: int = WIDTH) -> BarChart:
    """Bars for ``(label, value, value_label)`` rows, scaled to a round maximum; negative values draw as zero."""
    largest = max((max(value, 0.0) for _, value, _ in rows), default=0.0)
    step = nice_step(largest)
    top = step * max(1, math.ceil(largest / step))
    plot_width = _plot_width(width)
    bars = tuple(Bar(label, value_label, TOP + i * ROW_HEIGHT, plot_width * max(value, 0.0) / top)
                 for i, (label, value, value_label) in enumerate(rows))
    ticks = tuple(Tick(LABEL_WIDTH + plot_width * k * step / top, _tick_label(k * step, unit))
                  for k in range(round(top / step) + 1))
    axis_y = TOP + len(rows) * ROW_HEIGHT
    return BarChart(width, int(axis_y + AXIS_HEIGHT), LABEL_WIDTH, plot_width, ROW_HEIGHT, ROW_HEIGHT - 8, axis_y, bars, ticks)


def interval_chart(rows: Sequence[tuple[str, float | None, tuple[float, float] | None, str]], width: int = WIDTH) -> IntervalChart:
    """Points with whiskers on a 0–100 % scale for ``(label, proportion, (low, high), value_label)`` rows."""
    plot_width = _plot_width(width)

    def x(share: float | None) -> float | None:
        return None if share is None else LABEL_WIDTH + plot_width * min(max(share, 0.0), 1.0)

    drawn = tuple(IntervalRow(label, value_label, TOP + i * ROW_HEIGHT, x(point),
                              x(interval[0]) if interval else None, x(interval[1]) if interval else None)
                  for i, (label, point, interval, value_label) in enumerate(rows))
    ticks = tuple(Tick(LABEL_WIDTH + plot_width * k / 4, f"{25 * k}%") for k in range(5))
    axis_y = TOP + len(rows) * ROW_HEIGHT
    return IntervalChart(width, int(axis_y + AXIS_HEIGHT), LABEL_WIDTH, plot_width, ROW_HEIGHT, axis_y, drawn, ticks)


def duration_label(seconds: float | None) -> str:
    """A short human duration: 45 s, 12 min, 3.5 h, 2.1 d; a dash for None."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
