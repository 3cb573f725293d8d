"""The label-error page: the ranked suspects of :func:`annokit.analysis.label_errors.label_issues`, each drawn over
its image, and their JSON.

``write_diagnosis`` writes a folder with ``label_issues.json`` (every entry) and ``label_issues.html`` (self-contained
like the report: the counts per kind, the definitions, and the ``top`` entries with a drawing each: the labels
involved in orange, the predictions that give the evidence in green, the image's other labels in grey).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annokit.analysis.label_errors import KINDS, LabelIssue, LabelIssues
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.viz import svg

__all__ = ["write_diagnosis"]

_LABEL, _PRED, _OTHER = "#e8711c", "#1a9850", "#9a9a9a"


@dataclass(frozen=True)
class _Row:
    """One drawn entry: its rank, the issue, the image's file name and the drawing."""

    rank: int
    issue: LabelIssue
    file_name: str
    drawing: str


def _drawing(gt: Dataset, dets: Instances, issue: LabelIssue, k: int, image_root: Path | None,
             names: dict[int, str]) -> str:
    """Image position ``k`` with the labels and predictions of ``issue`` over its other labels."""
    from annokit.report._images import thumbnail

    g = gt.annotations
    on_img = np.flatnonzero(g.image_ids == issue.image_id)
    mine = set(issue.gt_ids)
    boxes = [svg.Box(tuple(g.boxes[j].tolist()), _OTHER, tooltip=f"label {int(g.ids[j])}: "
                     f"{names.get(int(g.labels[j]), '?')}") for j in on_img if int(g.ids[j]) not in mine]
    for j in on_img[np.isin(g.ids[on_img], list(mine))]:
        boxes.append(svg.Box(tuple(g.boxes[j].tolist()), _LABEL, dashed=True, tag_below=True,
                             tag=f"label {names.get(int(g.labels[j]), '?')}", tooltip=f"label {int(g.ids[j])}"))
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    for i in np.flatnonzero(np.isin(dets.ids, list(issue.pred_ids)) & (dets.image_ids == issue.image_id)):
        boxes.append(svg.Box(tuple(dets.boxes[i].tolist()), _PRED,
                             tag=f"{names.get(int(dets.labels[i]), '?')} {float(scores[i]):.2f}",
                             tooltip=f"prediction {int(dets.ids[i])}"))
    th = thumbnail(image_root, gt.images.file_names[k], max_side=480)
    hw = (int(gt.images.heights[k]), int(gt.images.widths[k]))
    return svg.image_overlay(hw, boxes, image_uri=th.uri if th is not None else None, width=360.0,
                             title=f"{issue.kind} on image {issue.image_id}")


def write_diagnosis(gt: Dataset, dets: Instances, issues: LabelIssues, out_dir: str | Path, *,
                    image_root: str | Path | None = None, top: int = 100, title: str = "annokit diagnose",
                    notes: Sequence[str] = (), overwrite: bool = False) -> Path:
    """Write ``label_issues.json`` and ``label_issues.html`` (the ``top`` entries drawn) into the folder
    ``out_dir``, whole or not at all (an existing one needs ``overwrite``); returns the page's path.

    Examples
    --------
    >>> from annokit.analysis.label_errors import label_issues                    # doctest: +SKIP
    >>> write_diagnosis(gt, dt, label_issues(gt, dt), "diag/", image_root="images")  # doctest: +SKIP
    """
    import orjson

    from annokit._internal.files import atomic_dir, json_clean
    from annokit.report._page import environment

    root = Path(image_root) if image_root is not None else None
    names = dict(zip(gt.categories.ids.tolist(), gt.categories.names))
    pos = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    with atomic_dir(Path(out_dir), overwrite=overwrite) as tmp:
        rows = [_Row(n + 1, e, gt.images.file_names[pos[e.image_id]],
                     _drawing(gt, dets, e, pos[e.image_id], root, names)) for n, e in enumerate(issues.issues[:top])]
        page = environment().get_template("diagnose.html.j2").render(
            title=title, counts=issues.counts(), total=len(issues), kinds=KINDS, rows=rows, params=issues.params,
            notes=list(notes), n_images=len(gt.images), n_gt=len(gt.annotations), n_pred=len(dets), top=top)
        (tmp / "label_issues.html").write_text(page, encoding="utf-8")
        (tmp / "label_issues.json").write_bytes(orjson.dumps(json_clean(issues.to_dict()), option=orjson.OPT_INDENT_2))
    return Path(out_dir) / "label_issues.html"
