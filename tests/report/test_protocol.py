""":mod:`annokit.report.protocol`: report.json / compare.json of a protocol, the page (escaped, undefined numbers
as a dash, every COCO-only section named as not available), exact deltas, and the refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from annokit.analysis.protocols import ProtocolOptions, ProtocolReport, evaluate_protocol
from annokit.errors import ValidationError
from annokit.report.protocol import (
    NOT_AVAILABLE,
    compare_protocol_reports,
    protocol_report_dict,
    write_protocol_comparison,
    write_protocol_report,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols import dota_arrays, write_dota


def _rep(ap: float | None, name: str = "<b>x</b>", protocol: str = "dota") -> ProtocolReport:
    """A hand-made record (the page's rendering of odd names and undefined numbers)."""
    return ProtocolReport(protocol=protocol, iou_type=None, metrics={"mAP": ap},
                          per_class={name: {"AP": ap, "n_gt": 3, "kind": "text"}}, columns=("AP", "n_gt", "kind"),
                          summary="")


def test_dota_report_folder(tmp_path: Path) -> None:
    labels, task1 = write_dota(tmp_path / "d", dota_arrays(2, 8))
    rep = evaluate_protocol("dota", labels, task1, options=ProtocolOptions(ap_method="allpoint"))
    page = write_protocol_report(rep, tmp_path / "rep", title="dota <run>")
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["metrics"] == rep.metrics and data["per_class"] == rep.per_class and data["protocol"] == "dota"
    assert data == json.loads(json.dumps(protocol_report_dict(rep, title="dota <run>")))
    html = page.read_text()
    assert "dota &lt;run&gt;" in html and "<run>" not in html
    assert all(f"<b>{k}</b>" in html for k in NOT_AVAILABLE)
    with pytest.raises(Exception, match="exists"):
        write_protocol_report(rep, tmp_path / "rep")


def test_page_escapes_names_and_shows_undefined_as_dash(tmp_path: Path) -> None:
    html = write_protocol_report(_rep(None), tmp_path / "r").read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "\u2013" in html and "None" not in html
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["metrics"] == {"mAP": None}


def test_compare_deltas_exact_and_no_interval(tmp_path: Path) -> None:
    a, b = _rep(0.25, "c"), _rep(0.625, "c")
    data = compare_protocol_reports([a, b, _rep(None, "c")], ["a", "b", "c"], title="t")
    m = data["metrics"]["mAP"]
    assert (m["a"], m["b"], m["delta"], m["ci95"], m["p"]) == (0.25, 0.625, 0.625 - 0.25, None, None)
    assert m["vs"]["c"]["delta"] is None
    assert set(data["per_class"]["c"]) == {"AP", "n_gt"}  # a text column has no delta
    assert data["bootstrap"]["resamples"] == 0 and "dota" in data["bootstrap"]["note"]
    html = write_protocol_comparison(data, tmp_path / "c").read_text()
    assert "no bootstrap intervals" in html and 'id="per-class-table"' in html


def test_compare_refuses_mixed_protocols_and_names() -> None:
    with pytest.raises(ValidationError, match="one protocol"):
        compare_protocol_reports([_rep(0.1), _rep(0.2, protocol="voc07")], ["a", "b"], title="t")
    with pytest.raises(ValidationError, match="one name each"):
        compare_protocol_reports([_rep(0.1), _rep(0.2)], ["a"], title="t")
