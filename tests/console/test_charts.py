"""Chart geometry for the dashboards (pure): scales, ticks, bars, intervals and labels."""

from __future__ import annotations

import pytest

from pipeline.charts import LABEL_WIDTH, ROW_HEIGHT, bar_chart, duration_label, interval_chart, nice_step
from pipeline.review import wilson_interval


@pytest.mark.parametrize(("largest", "step"), [(0, 1.0), (3, 1), (7, 2), (10, 5), (47, 20), (1234, 500), (0.8, 0.2)])
def test_nice_step_is_a_round_number_giving_about_four_intervals(largest, step):
    assert nice_step(largest) == pytest.approx(step)


def test_bars_scale_to_a_round_maximum_and_rows_stack():
    chart = bar_chart([("phone", 30, "30"), ("email", 15, "15"), ("none", 0, "0")])
    assert chart.ticks[-1].label == "30" and [t.label for t in chart.ticks] == ["0", "10", "20", "30"]
    phone, email, none = chart.bars
    assert phone.width == pytest.approx(chart.plot_width) and email.width == pytest.approx(chart.plot_width / 2)
    assert none.width == 0 and [b.y for b in chart.bars] == [8, 8 + ROW_HEIGHT, 8 + 2 * ROW_HEIGHT]
    assert chart.axis_y == 8 + 3 * ROW_HEIGHT and chart.height > chart.axis_y
    assert chart.ticks[0].x == LABEL_WIDTH and chart.ticks[-1].x == pytest.approx(LABEL_WIDTH + chart.plot_width)


def test_bars_of_an_empty_or_all_zero_chart_have_a_scale_and_no_width():
    assert bar_chart([]).bars == () and len(bar_chart([]).ticks) == 2
    assert bar_chart([("a", 0, "0")]).bars[0].width == 0
    assert bar_chart([("late", 2.5, "2.5 h")], unit=" h").ticks[-1].label == "3 h"


def test_intervals_place_the_point_and_whiskers_on_a_percent_scale():
    interval = wilson_interval(8, 10)
    chart = interval_chart([("phone v1", 0.8, interval, "80%"), ("email v1", None, None, "no decisions")])
    drawn, empty = chart.rows
    left, width = chart.plot_left, chart.plot_width
    assert drawn.point_x == pytest.approx(left + 0.8 * width)
    assert drawn.low_x == pytest.approx(left + interval[0] * width) and drawn.high_x == pytest.approx(left + interval[1] * width)
    assert drawn.low_x < drawn.point_x < drawn.high_x
    assert (empty.point_x, empty.low_x, empty.high_x) == (None, None, None)
    assert [t.label for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (42, "42 s"), (600, "10 min"), (5400, "1.5 h"), (3 * 86400, "3.0 d")])
def test_duration_labels(seconds, text):
    assert duration_label(seconds) == text
