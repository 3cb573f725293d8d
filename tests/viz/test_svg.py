"""The SVG figures: checked for content (elements, values, caps, escaping), and that they are well-formed XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from annokit.viz import svg

NS = "{http://www.w3.org/2000/svg}"


def _parse(text: str) -> ET.Element:
    root = ET.fromstring(text)  # well-formed, or this raises
    assert root.tag == NS + "svg"
    return root


def test_nice_ticks() -> None:
    assert svg.nice_ticks(0, 1).tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 37).tolist() == [0, 10, 20, 30]
    assert svg.nice_ticks(3, 3).tolist() == [3]


def test_line_chart_one_polyline_per_series_and_a_legend() -> None:
    x = np.linspace(0, 1, 5)
    root = _parse(svg.line_chart({"a": (x, x), "b": (x, 1 - x), "empty": (np.zeros(0), np.zeros(0))}, title="t",
                                 xlabel="x", ylabel="y", marker=(0.5, "here")))
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 2 and len(lines[0].get("points", "").split()) == 5
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert {"a", "b", "empty", "here", "t"} <= set(texts)


def test_hbar_chart_hatches_undefined_values_and_grows_with_rows() -> None:
    rows = [(f"class {i}", i / 100) for i in range(80)] + [("no gt", None)]
    text = svg.hbar_chart(rows, title="AP", xlabel="AP", note="Showing 81 of 90")
    root = _parse(text)
    bars = [r for r in root.iter(f"{NS}rect") if r.get("fill") == svg.PALETTE[0]]
    hatched = [r for r in root.iter(f"{NS}rect") if r.get("fill") == "url(#hatch)"]
    assert len(bars) == 80 and len(hatched) == 1
    assert float(root.get("height", 0)) >= 15 * 81  # 15 px a row: labels never overlap
    assert "Showing 81 of 90" in text and "undefined" in text
    widths = [float(r.get("width", 0)) for r in bars]
    assert widths == sorted(widths) and widths[0] == 0.0


def test_text_is_escaped() -> None:
    text = svg.bar_chart({"<script>alert(1)</script>": 1.0, "a & b": 2.0}, title="x < y", ylabel="v")
    _parse(text)
    assert "<script>" not in text and "&lt;script&gt;" in text and "a &amp; b" in text


def test_heatmap_cells_and_counts() -> None:
    counts = np.array([[3, 1], [0, 4]])
    root = _parse(svg.heatmap(counts / counts.sum(1, keepdims=True), counts, ["a", "b"], ["a", "b"], title="cm"))
    cells = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(cells) == 4
    assert [c.find(f"{NS}title").text for c in cells][1] == "a \u2192 b: 1 (0.25)"  # type: ignore[union-attr]
    assert [t.text for t in root.iter(f"{NS}text") if t.text in ("3", "1", "4")] == ["3", "1", "4"]  # no 0 written


def test_image_overlay_boxes_tags_and_picture() -> None:
    boxes = [svg.Box((10, 10, 50, 40), "#d73027", tag="dog 0.9 FP Cls", tooltip="prediction 3"),
             svg.Box((0, 0, 100, 100), "#fd8d3c", dashed=True, tag=None)]
    root = _parse(svg.image_overlay((100, 200), boxes, image_uri="data:image/jpeg;base64,AAAA", width=400))
    assert root.get("height") == "200"  # 100 x 200 image at 400 px wide
    assert root.find(f"{NS}image").get("href").startswith("data:image/jpeg")  # type: ignore[union-attr]
    rects = root.findall(f"{NS}rect")
    assert rects[0].get("x") == "20" and rects[0].get("width") == "80"  # scaled by 2
    assert rects[1].get("stroke-dasharray") == "5 3"
    assert [t.text for t in root.findall(f"{NS}text")] == ["dog 0.9 FP Cls"]


def test_area_histogram_and_reliability_charts() -> None:
    x = np.linspace(0, 1, 101)
    root = _parse(svg.area_chart(x, {"C75": x * 0.5, "FN": np.ones(101)}, title="bd", colors={"C75": "#fff"}))
    assert len(root.findall(f"{NS}polygon")) == 2
    root = _parse(svg.histogram(np.array([0, 1, 2, 3.0]), np.array([2, 0, 5]), title="h", xlabel="x", ylabel="n",
                                vlines=(1.5, 99)))
    assert len([r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]) == 2  # empty bin: none
    assert len([ln for ln in root.iter(f"{NS}line") if ln.get("stroke") == "#c9302c"]) == 1  # 99 is off the axis
    text = svg.reliability_chart(np.linspace(0, 1, 11), np.full(10, 0.5), np.r_[np.zeros(9), 4], title="r")
    assert len(re.findall(r"accuracy 0\.500 over 4", text)) == 1
