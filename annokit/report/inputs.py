"""Reading the predictions of a report, a label-error diagnosis or an explorer page: a COCO results file whose
detections may lie on images the ground truth does not have.

:func:`annokit.io.coco.read_results` refuses such detections (pycocotools' ``loadRes`` asserts). The pages keep
them instead, as *unevaluated*: they are counted on the page and listed in ``tags.json`` with the status
``unevaluated``, and everything else is computed on the detections of known images exactly as before (their ids
stay ``1..N`` in file order, as ``loadRes`` numbers them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import FormatError

__all__ = ["Predictions", "read_predictions"]


@dataclass(frozen=True)
class Predictions:
    """The detections of a results file: ``dets`` on images of the ground truth (ids = position in the file + 1)
    and ``unevaluated`` (one JSON-ready record per detection on another image, in file order)."""

    dets: Instances
    unevaluated: list[dict[str, Any]]

    @property
    def n_unevaluated_images(self) -> int:
        """How many distinct images the unevaluated detections lie on."""
        return len({str(r["image_id"]) for r in self.unevaluated})

    def note(self) -> str:
        """One sentence for a page ('' when every detection was evaluated)."""
        n = len(self.unevaluated)
        if not n:
            return ""
        return (f"{n} prediction{'s' if n != 1 else ''} on {self.n_unevaluated_images} image"
                f"{'s' if self.n_unevaluated_images != 1 else ''} absent from the ground truth "
                "were not evaluated (status 'unevaluated').")


def _known_ids(gt: Dataset) -> set[Any]:
    """The image ids a detection may name: the integer ids and, for datasets read with string ids, those."""
    known: set[Any] = set(gt.images.ids.tolist())
    if gt.images.extras is not None:
        known |= {e["id"] for e in gt.images.extras if isinstance(e.get("id"), (str, int))}
    return known


def _unevaluated_record(i: int, d: dict[str, Any]) -> dict[str, Any]:
    """The ``tags.json`` record of detection ``i`` of the file, on an image the ground truth does not have."""
    return {"kind": "pred", "row": None, "id": i + 1, "image_id": d.get("image_id"),
            "category_id": d.get("category_id"), "score": d.get("score"), "status": "unevaluated",
            "matched_row": None, "matched_id": None, "iou": None, "error": None}


def _where_in_file(where: str | None, rows: np.ndarray) -> str | None:
    """``where`` of an error about the filtered list, with its leading ``[i]`` made the position in the file."""
    if where is None:
        return None
    m = re.match(r"\[(\d+)\]", where)
    if m is None or int(m.group(1)) >= len(rows):
        return where
    return f"[{int(rows[int(m.group(1))])}]" + where[m.end():]


def read_predictions(path: str | Path, gt: Dataset) -> Predictions:
    """Read the COCO results file ``path`` against ``gt``, keeping detections on unknown images as unevaluated.

    Parameters
    ----------
    path : str or Path
        A COCO results JSON (a list of detections).
    gt : Dataset
        The ground truth.

    Returns
    -------
    Predictions

    Examples
    --------
    >>> import annokit
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> p = read_predictions("sample_data/scenes/pred.json", gt)
    >>> len(p.dets), p.unevaluated
    (156, [])
    """
    from annokit.io.coco import load_json, read_results

    p = Path(path)
    data = load_json(p)
    if not isinstance(data, list):
        return Predictions(read_results(p, gt), [])
    known = _known_ids(gt)
    keep = np.array([not isinstance(d, dict) or not isinstance(d.get("image_id"), (int, str))
                     or d["image_id"] in known for d in data], dtype=bool)
    rows = np.flatnonzero(keep)
    unevaluated = [_unevaluated_record(int(i), data[i]) for i in np.flatnonzero(~keep)]
    if len(rows) == 0 and unevaluated:
        return Predictions(Instances.empty(with_scores=True), unevaluated)
    dets = _read_rows(p, data if keep.all() else [data[i] for i in rows], rows, gt)
    return Predictions(dets if keep.all() else dets.replace(ids=rows + 1), unevaluated)


def _read_rows(path: Path, data: list[Any], rows: np.ndarray, gt: Dataset) -> Instances:
    """:func:`annokit.io.coco.read_results` of the records ``data`` (the file's records ``rows``), its errors and
    warnings naming ``path`` and the record's position in the file."""
    import warnings

    from annokit.io.coco import read_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dets = read_results(data, gt)
        except FormatError as exc:
            raise FormatError(path, _where_in_file(exc.where, rows), exc.message) from None
    for w in caught:
        warnings.warn(str(w.message).replace("<results>", str(path)), w.category, stacklevel=3)
    return dets
