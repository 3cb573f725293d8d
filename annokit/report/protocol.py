"""``annokit report --protocol`` and ``annokit compare --protocol``: the page and JSON of a published protocol
(LVIS, Open Images, DOTA, VOC07/VOC12, COCO keypoints, COCO-style rotated boxes).

The numbers are :func:`annokit.analysis.protocols.evaluate_protocol`'s -- the same as
``annokit eval --protocol ... --json`` (its ``metrics`` and ``per_class``, key for key). The COCO report's other
sections are built on COCO box/mask matching (TIDE's error decomposition and its pie, the PR breakdown, the best-F1
outcome and the worst-images gallery); they are not computed for a protocol, and the page and JSON say so, section
by section (``"not_available": {section: reason}``).

A comparison's deltas are the difference of two evaluations. COCO keypoints and rotated boxes
(:func:`compare_coco_files`) get ``annokit compare``'s paired bootstrap intervals
(:func:`annokit.analysis.compare.compare_coco`: it resamples COCO's accumulator, whatever the IoU type). The other
protocols have no resampling machinery (:func:`compare_protocol_reports`): every ``"ci95"`` and ``"p"`` is ``None``
and ``"bootstrap"`` says why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annokit._internal.progress import Progress
from annokit.analysis.compare import delta_entry
from annokit.analysis.protocols import ProtocolOptions, ProtocolReport
from annokit.errors import ValidationError

__all__ = ["NOT_AVAILABLE", "compare_coco_files", "compare_protocol_reports", "protocol_report_dict",
           "write_protocol_comparison", "write_protocol_report"]

_COCO_ONLY = "is defined on COCO's box/mask matching at IoU 0.5 and is not computed for protocol {p}"
NOT_AVAILABLE: dict[str, str] = {
    "tide": "TIDE error decomposition " + _COCO_ONLY,
    "error_pie": "the error pie (shares of TIDE's dAP) " + _COCO_ONLY,
    "pr_breakdown": "the COCO-style PR breakdown (C75/C50/Loc/Sim/Oth/BG/FN) " + _COCO_ONLY,
    "outcome": "the best-F1 threshold and per-class TP/FP/FN " + _COCO_ONLY,
    "gallery": "the worst-images gallery " + _COCO_ONLY,
    "slices": "per-slice numbers " + _COCO_ONLY,
}
"""The COCO report's sections a protocol page leaves out, with the reason written on the page."""

BOOTSTRAP_NOTE = ("no bootstrap intervals: annokit's paired bootstrap (annokit.analysis.compare.compare_coco) "
                  "resamples COCO's accumulator and does not cover protocol {p}; ci95 and p are null, deltas are "
                  "exact differences of two evaluations")


def _label(rep: ProtocolReport) -> str:
    """``lvis (bbox)``, ``coco (keypoints)``, ``dota``: the protocol as the page names it."""
    return rep.protocol + (f" ({rep.iou_type})" if rep.iou_type else "")


def protocol_report_dict(rep: ProtocolReport, *, title: str) -> dict[str, Any]:
    """What ``report.json`` holds for a protocol: ``title``, ``protocol``, ``iou_type``, ``metrics`` and
    ``per_class`` (those of :meth:`ProtocolReport.to_json`), ``columns``, ``notes`` and ``not_available``.

    Examples
    --------
    >>> from annokit.analysis.protocols import evaluate_protocol
    >>> rep = evaluate_protocol("coco", "sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> sorted(protocol_report_dict(rep, title="t")["not_available"])[:2]
    ['error_pie', 'gallery']
    """
    label = _label(rep)
    return {"title": title, **rep.to_json(), "iou_type": rep.iou_type, "columns": list(rep.columns),
            "notes": list(rep.notes), "not_available": {k: v.format(p=label) for k, v in NOT_AVAILABLE.items()}}


def compare_protocol_reports(reports: Sequence[ProtocolReport], names: Sequence[str], *,
                             title: str) -> dict[str, Any]:
    """``compare.json`` for one protocol: per metric and per class ``{name: value, ..., "delta", "ci95", "p"}``
    (``delta`` = model - first model, exactly; ``ci95`` and ``p`` None -- see ``"bootstrap"``).

    Parameters
    ----------
    reports : sequence of ProtocolReport
        One per model, all of one protocol and IoU type, the baseline first.
    names : sequence of str
        The models' names (as many as ``reports``).
    title : str

    Returns
    -------
    dict

    Examples
    --------
    >>> from annokit.analysis.protocols import evaluate_protocol
    >>> rep = evaluate_protocol("coco", "sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> compare_protocol_reports([rep, rep], ["a", "b"], title="t")["metrics"]["AP"]["delta"]
    0.0
    """
    if len(reports) != len(names) or len(reports) < 2:
        raise ValidationError("compare needs two or more reports and one name each")
    first = reports[0]
    if any((r.protocol, r.iou_type) != (first.protocol, first.iou_type) for r in reports):
        raise ValidationError("compare: every report must be of one protocol and IoU type")
    metrics = {k: delta_entry({n: r.metrics.get(k) for n, r in zip(names, reports)}, names, None)
               for k in first.metrics}
    classes = list(dict.fromkeys(c for r in reports for c in r.per_class))
    cols = [c for c in first.columns if all(_is_number(r.per_class.get(k, {}).get(c)) for r in reports
                                            for k in classes)]
    per_class = {k: {c: delta_entry({n: r.per_class.get(k, {}).get(c) for n, r in zip(names, reports)}, names,
                                    None) for c in cols} for k in classes}
    return _comparison(names, first, {"resamples": 0, "note": BOOTSTRAP_NOTE.format(p=_label(first))}, metrics,
                       per_class, title)


def _comparison(names: Sequence[str], first: ProtocolReport, bootstrap: dict[str, Any],
                metrics: dict[str, Any], per_class: dict[str, Any], title: str) -> dict[str, Any]:
    """The shape of a protocol's ``compare.json``."""
    label = _label(first)
    return {"title": title, "models": list(names), "protocol": first.protocol, "iou_type": first.iou_type,
            "bootstrap": bootstrap, "metrics": metrics, "per_class": per_class,
            "not_available": {k: v.format(p=label) for k, v in NOT_AVAILABLE.items()}}


def compare_coco_files(gt: str | os.PathLike[str], preds: Sequence[str | os.PathLike[str]], *,
                       names: Sequence[str], options: ProtocolOptions, bootstrap: int = 1000, seed: int = 0,
                       title: str = "annokit compare", progress: Progress | None = None) -> dict[str, Any]:
    """``compare.json`` for protocol ``coco`` (``options.iou_type`` keypoints or rotated): the COCO numbers of
    each results file of ``preds`` with paired bootstrap intervals (:func:`annokit.analysis.compare.compare_coco`,
    whose resamples equal pycocotools on the resampled dataset for keypoints too); metric keys those of
    ``annokit eval --iou-type ...``, per class ``AP`` and ``AP50``.

    Examples
    --------
    >>> o = ProtocolOptions(iou_type="keypoints")                                     # doctest: +SKIP
    >>> compare_coco_files("gt.json", ["a.json", "b.json"], names=["a", "b"], options=o)  # doctest: +SKIP
    """
    from annokit.analysis.compare import compare_coco
    from annokit.analysis.protocols import coco_params, read_coco_inputs

    ds, dets = read_coco_inputs(gt, preds, options=options)
    cmp, _ = compare_coco(ds, dets, names=names, params=coco_params(options), fixed=options.fixed,
                          bootstrap=bootstrap, seed=seed, progress=progress)
    first = ProtocolReport(protocol="coco", iou_type=options.iou_type or "bbox", metrics={}, per_class={},
                           columns=(), summary="")
    boot: dict[str, Any] = {"resamples": bootstrap, "seed": seed, "images": cmp.n_images, "paired": True,
                            "interval": "percentile 2.5-97.5"}
    if not bootstrap:
        boot["note"] = "no bootstrap run (--bootstrap 0): deltas without intervals"
    return _comparison(names, first, boot, cmp.metrics(), cmp.per_class(), title)


def _is_number(v: Any) -> bool:
    """A per-class cell a delta is taken of: a number (not a bool) or None (undefined)."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _write(out_dir: str | Path, overwrite: bool, stem: str, data: dict[str, Any], template: str) -> Path:
    """``stem.json`` and ``stem.html`` (from ``template``) in the folder ``out_dir``, whole or not at all."""
    import orjson

    from annokit._internal.files import atomic_dir, json_clean
    from annokit.report._page import environment

    clean = json_clean(data)
    html = environment().get_template(template).render(data=clean, compare=stem == "compare")
    with atomic_dir(Path(out_dir), overwrite=overwrite) as tmp:
        (tmp / f"{stem}.html").write_text(html, encoding="utf-8")
        (tmp / f"{stem}.json").write_bytes(orjson.dumps(clean, option=orjson.OPT_INDENT_2))
    return Path(out_dir) / f"{stem}.html"


def write_protocol_report(rep: ProtocolReport, out_dir: str | Path, *, title: str = "annokit report",
                          overwrite: bool = False) -> Path:
    """Write ``report.html`` and ``report.json`` (:func:`protocol_report_dict`) into the folder ``out_dir``
    (whole or not at all; an existing one needs ``overwrite``); returns the page's path.

    Examples
    --------
    >>> write_protocol_report(evaluate_protocol("dota", "labels/", "task1/"), "rep/")  # doctest: +SKIP
    """
    return _write(out_dir, overwrite, "report", protocol_report_dict(rep, title=title), "protocol.html.j2")


def write_protocol_comparison(data: dict[str, Any], out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``compare.html`` and ``compare.json`` (``data``: :func:`compare_protocol_reports`) into the folder
    ``out_dir`` (whole or not at all); returns the page's path.

    Examples
    --------
    >>> write_protocol_comparison(compare_protocol_reports([a, b], ["a", "b"], title="t"), "cmp/")  # doctest: +SKIP
    """
    return _write(out_dir, overwrite, "compare", data, "protocol.html.j2")
