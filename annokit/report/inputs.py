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

__all__ = ["Predictions", "read_predictions", "read_slices"]


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
    try:  # the common case: every detection on a known image, read by the fast reader from the file
        return Predictions(read_results(p, gt), [])
    except FormatError as exc:
        data = load_json(p)
        if not isinstance(data, list):
            raise
        known = _known_ids(gt)
        keep = np.array([not isinstance(d, dict) or not isinstance(d.get("image_id"), (int, str))
                         or d["image_id"] in known for d in data], dtype=bool)
        if keep.all():
            raise exc from None  # not about unknown images: the reader's own error
    rows = np.flatnonzero(keep)
    unevaluated = [_unevaluated_record(int(i), data[i]) for i in np.flatnonzero(~keep)]
    if len(rows) == 0:
        return Predictions(Instances.empty(with_scores=True), unevaluated)
    return Predictions(_read_rows(p, [data[i] for i in rows], rows, gt).replace(ids=rows + 1), unevaluated)


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


def read_slices(path: str | Path, gt: Dataset) -> dict[str, np.ndarray]:
    """Named subsets of the images, from a JSON object ``{"name": [image id, ...], ...}``.

    Returns ``{name: (n,) int64 positions in gt.images}`` in the file's order (duplicates kept once, sorted). An
    image id the ground truth does not have, a name that is not text or a value that is not a list is a
    :class:`FormatError` naming the slice and the entry.

    Examples
    --------
    >>> import annokit, json, tempfile, os
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> p = os.path.join(tempfile.mkdtemp(), "slices.json")
    >>> _ = open(p, "w").write(json.dumps({"first": [1, 2], "night": [48]}))
    >>> {k: v.tolist() for k, v in read_slices(p, gt).items()}
    {'first': [0, 1], 'night': [47]}
    """
    from annokit.io.coco import load_json

    p = Path(path)
    data = load_json(p)
    if not isinstance(data, dict):
        raise FormatError(p, None, f"slices must be a JSON object {{name: [image ids]}}, got {type(data).__name__}")
    known = _known_ids(gt)
    out: dict[str, np.ndarray] = {}
    for name, ids in data.items():
        if not isinstance(ids, list):
            raise FormatError(p, name, f"expected a list of image ids, got {type(ids).__name__}")
        for i, v in enumerate(ids):
            if isinstance(v, bool) or not isinstance(v, (int, str)) or v not in known:
                raise FormatError(p, f"{name}[{i}]", f"image id {v!r} is not in the ground truth")
        out[name] = np.unique(gt.images.index_of(np.array(_as_int_ids(gt, ids), dtype=np.int64)))
    return out


def _as_int_ids(gt: Dataset, ids: list[Any]) -> list[int]:
    """Image ids as the dataset's integer ids (string ids mapped through the images' extras)."""
    if not any(isinstance(v, str) for v in ids):
        return [int(v) for v in ids]
    extras = gt.images.extras or []
    by_str = {e.get("id"): int(gt.images.ids[i]) for i, e in enumerate(extras)}
    return [by_str[v] if isinstance(v, str) else int(v) for v in ids]
