"""``invoices.charts``: plain data in, valid, deterministic, accessible SVG out."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices import charts
from invoices.charts import COUNT, ChartError, Series

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def width(rect: ET.Element) -> float:
    return float(rect.get("width"))


def test_a_bar_chart_is_valid_svg_with_a_title_and_a_description():
    svg = charts.bar_chart(
        "chart-a", "欠费账龄", ["0–30 天", "31–60 天"], [40000, 12345], axis_label="金额（元）"
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-a-title chart-a-desc"
    assert root.find(f"{NS}title").text == "欠费账龄"
    assert root.find(f"{NS}desc").text == "0–30 天: ¥400.00; 31–60 天: ¥123.45"
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "¥400.00" in texts and "¥123.45" in texts and "金额（元）" in texts
    assert "<style" not in svg and "style=" not in svg and "<script" not in svg


def test_bar_widths_are_proportional_to_the_values():
    root = parse(charts.bar_chart("c", "t", ["a", "b", "c"], [10000, 5000, 2500]))
    a, b, c = (width(r) for r in bars(root))
    assert a == pytest.approx(2 * b, abs=0.1) and b == pytest.approx(2 * c, abs=0.1)


def test_the_axis_is_in_yuan_with_round_steps():
    root = parse(charts.bar_chart("c", "t", ["a"], [123456]))
    ticks = [t.text for t in root.find(f"{NS}g[@class='axis']").iter(f"{NS}text")]
    assert ticks == ["¥0", "¥500", "¥1,000", "¥1,500"]
    small = parse(charts.bar_chart("c", "t", ["a"], [250]))
    ticks = [t.text for t in small.find(f"{NS}g[@class='axis']").iter(f"{NS}text")]
    assert ticks == ["¥0", "¥1", "¥2", "¥3"]
    tiny = parse(charts.bar_chart("c", "t", ["a"], [25]))
    ticks = [t.text for t in tiny.find(f"{NS}g[@class='axis']").iter(f"{NS}text")]
    assert ticks == ["¥0.00", "¥0.10", "¥0.20", "¥0.30"]


def test_counts_have_whole_number_ticks():
    root = parse(charts.bar_chart("c", "t", ["rule"], [3], unit=COUNT))
    ticks = [t.text for t in root.find(f"{NS}g[@class='axis']").iter(f"{NS}text")]
    assert ticks == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    "draw",
    [
        lambda: charts.bar_chart("z", "nothing", ["a", "b"], [0, 0]),
        lambda: charts.bar_chart("z", "nothing", [], []),
        lambda: charts.grouped_bar_chart("z", "n", ["a"], [Series("x", [0]), Series("y", [0])]),
        lambda: charts.stacked_bar_chart("z", "n", ["a"], [Series("x", [0]), Series("y", [0])]),
        lambda: charts.stacked_bar_chart("z", "n", [], [Series("x", [])]),
    ],
)
def test_zero_or_no_data_draws_an_empty_chart_without_dividing_by_zero(draw):
    root = parse(draw())
    assert bars(root) == []


def test_negative_values_are_drawn_left_of_the_zero_line():
    root = parse(charts.bar_chart("n", "t", ["up", "down"], [10000, -5000]))
    up, down = bars(root)
    zero = [
        line
        for line in root.iter(f"{NS}line")
        if line.get("stroke") == "#9aa5b1"  # the zero line is darker than the grid
    ]
    [zero_line] = zero
    x0 = float(zero_line.get("x1"))
    assert float(up.get("x")) == pytest.approx(x0)
    assert float(down.get("x")) + width(down) == pytest.approx(x0)
    assert width(up) == pytest.approx(2 * width(down), abs=0.1)
    assert "-¥50.00" in [t.text for t in root.iter(f"{NS}text")]


def test_stacked_segments_add_up_to_the_total():
    root = parse(
        charts.stacked_bar_chart(
            "s",
            "aging",
            ["S1", "S2"],
            [Series("0-30", [30000, 0]), Series("31-60", [10000, 20000])],
            total_label="合计",
        )
    )
    s1a, s1b, s2b = bars(root)
    assert width(s1a) == pytest.approx(3 * width(s1b), abs=0.1)
    assert width(s1a) + width(s1b) == pytest.approx(2 * width(s2b), abs=0.1)
    assert float(s1b.get("x")) == pytest.approx(float(s1a.get("x")) + width(s1a), abs=0.1)
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "合计 ¥400.00" in texts and "合计 ¥200.00" in texts
    assert [t.text for t in root.find(f"{NS}g[@class='legend']").iter(f"{NS}text")] == [
        "0-30",
        "31-60",
    ]


def test_every_text_is_escaped():
    nasty = "<script>alert(\"x\")</script> & 'q' \x01"
    svg = charts.grouped_bar_chart(
        "e", nasty, [nasty], [Series(nasty, [100]), Series("b", [200])], axis_label=nasty
    )
    root = parse(svg)
    assert "<script>" not in svg and "\x01" not in svg
    assert root.find(f"{NS}title").text == nasty.replace("\x01", "")
    assert root.find(f".//{NS}g[@class='row']").get("data-label") == nasty.replace("\x01", "")


def test_the_same_data_gives_the_same_text():
    args = ("d", "t", ["a", "b"], [Series("x", [1, 2]), Series("y", [3, 4])])
    assert charts.grouped_bar_chart(*args) == charts.grouped_bar_chart(*args)


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (lambda: charts.bar_chart("a", "t", ["a"], [1.5]), "integers"),
        (lambda: charts.bar_chart("a", "t", ["a", "b"], [1]), "1 values for 2 labels"),
        (lambda: charts.bar_chart("1bad id", "t", ["a"], [1]), "chart id"),
        (lambda: charts.bar_chart("a", "t", ["a"], [True]), "integers"),
        (lambda: charts.bar_chart("a", "t", ["a"], [1], unit="usd"), "unit"),
        (lambda: charts.grouped_bar_chart("a", "t", ["a"], []), "at least one series"),
    ],
)
def test_data_it_cannot_draw_is_refused_clearly(draw, message):
    with pytest.raises(ChartError, match=message):
        draw()


def test_a_long_legend_wraps_instead_of_running_off_the_chart():
    names = [f"第{i}实验小学（东校区）" for i in range(8)]
    root = parse(charts.stacked_bar_chart("w", "t", ["a"], [Series(n, [100]) for n in names]))
    xs = [float(r.get("x")) for r in root.find(f"{NS}g[@class='legend']").iter(f"{NS}rect")]
    assert max(xs) < charts.WIDTH and len(set(xs)) < len(xs)  # some items start a new row


@given(
    st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=12),
)
def test_any_integers_draw_inside_the_chart(values):
    root = parse(charts.bar_chart("h", "t", [str(i) for i in range(len(values))], values))
    for rect in bars(root):
        x, w = float(rect.get("x")), width(rect)
        assert w >= 0 and x >= charts.AXIS_LEFT - 0.1
        assert x + w <= charts.WIDTH - charts.PAD - charts.VALUE_COLUMN + 0.1


def test_the_same_svg_prints_in_a_pdf():
    """Inline in a document's HTML, WeasyPrint draws the chart: its words are in the PDF."""
    import io

    from pypdf import PdfReader
    from weasyprint import HTML

    from invoices.render import PackageFetcher, cjk_font_family

    svg = charts.grouped_bar_chart(
        "pdf",
        "财政补助：申领与到账",
        ["S1-SC-2026-0001"],
        [Series("申领", [120000]), Series("到账", [70000])],
        axis_label="金额（元）",
    )
    html = (
        f'<html lang="zh-CN"><body style="font-family: {cjk_font_family()}">'
        f"<h1>报告</h1>{svg}</body></html>"
    )
    pdf = HTML(string=html, url_fetcher=PackageFetcher()).write_pdf()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for words in ("¥1,200.00", "¥700.00", "S1-SC-2026-0001", "¥1,000"):
        assert words in text, words
