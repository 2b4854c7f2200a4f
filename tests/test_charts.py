"""Server-drawn SVG charts: numbers land in the picture and in the accessible table."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string

from crm_platform.charts import bars, donut, format_number, lines, nice_ticks, stacked_bars

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)


def test_nice_ticks_cover_the_maximum_with_round_steps():
    assert nice_ticks(95) == [0, 25, 50, 75, 100]
    assert nice_ticks(1200)[-1] >= 1200
    assert nice_ticks(0) == [0.0, 1.0]


def test_format_number_is_short():
    assert format_number(1200) == "1.2k"
    assert format_number(3_500_000, " USD") == "3.5M USD"
    assert format_number(7) == "7"
    assert format_number(-2500) == "-2.5k"


def test_bar_heights_are_proportional_and_table_carries_values():
    html = str(bars(["Jan", "Feb"], [50, 100], title="Won"))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', html)]
    assert len(heights) == 2 and abs(heights[1] - 2 * heights[0]) < 0.2
    assert "<figcaption>Won</figcaption>" in html
    assert '<table class="visually-hidden">' in html and "<td>100</td>" in html


def test_stacked_bars_stack_series_and_show_a_legend():
    html = str(
        stacked_bars(["Q1"], [{"name": "Commit", "values": [3]}, {"name": "Best", "values": [1]}])
    )
    assert html.count("<rect") == 2
    assert "chart-legend" in html and "Commit" in html and "Best" in html


def test_lines_and_donut_render_values_and_escape_labels():
    html = str(lines(["<b>", "x"], [{"name": "MRR", "values": [1, 2]}], unit=" USD"))
    assert "<polyline" in html and "&lt;b&gt;" in html and "<b>" not in html
    ring = str(donut(["Free", "Pro"], [1, 3], title="Plans"))
    assert ring.count("stroke-dasharray") == 2 and "75%" in ring


def test_empty_data_draws_a_dash_not_a_broken_svg():
    assert "chart-empty" in str(bars([], []))
    assert "chart-empty" in str(donut(["a"], [0]))


def test_macros_are_available_to_templates(app):
    with app.test_request_context():
        html = render_template_string(
            '{% from "_charts.html" import bar_chart %}{{ bar_chart(["a"], [2], title="T") }}'
        )
    assert "<svg" in html and "<figcaption>T</figcaption>" in html
