"""``annokit eval --protocol``: the published evaluation protocols (private).

The work is :func:`annokit.analysis.protocols.evaluate_protocol` (shared with ``annokit report`` and ``compare``);
this module turns the command's options into its :class:`~annokit.analysis.protocols.ProtocolOptions` and its
report into the command's output: the reference's summary, then a per-class table.

* ``coco``: ``--gt`` COCO instances JSON, ``--pred`` COCO results; ``--iou-type bbox|segm|keypoints|rotated``
  (``annokit eval --iou-type keypoints|rotated`` without ``--protocol`` runs it too).
* ``lvis``: ``--gt`` an LVIS JSON, ``--pred`` COCO results; ``--iou-type bbox|segm``.
* ``openimages``: ``--gt`` COCO-style JSON (``isgroupof``, ``pos_category_ids`` / ``neg_category_ids``), ``--pred``
  COCO results, ``--hierarchy`` the Open Images hierarchy JSON (optional).
* ``dota``: ``--gt`` a folder of DOTA label files, ``--pred`` a folder of ``Task1_<class>.txt`` (or one file);
  ``--ap-method`` 11point (default, the devkit's) or allpoint.
* ``voc07`` / ``voc12``: ``--gt`` a VOC folder or COCO-style JSON, ``--pred`` COCO results or the devkit's
  ``<prefix>_<class>.txt`` files; IoU 0.5, ``--iou-mode continuous`` (default: annokit's pixel-edge boxes, the
  devkit's numbers on its own files) or ``devkit`` (``+1`` pixel, for boxes holding the devkit's inclusive numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from annokit.cli._eval_tasks import EvalOutput
from annokit.cli._format import table

__all__ = ["PROTOCOLS", "ProtocolInputs", "run_protocol"]

#: ``annokit.analysis.protocols.PROTOCOLS``, kept here so that ``--protocol``'s choices need not import the
#: protocols (numpy, the metrics); tests/cli/test_lazy_cli.py checks that the two are equal.
PROTOCOLS: tuple[str, ...] = ("coco", "dota", "lvis", "openimages", "voc07", "voc12")


@dataclass(frozen=True)
class ProtocolInputs:
    """What ``annokit eval --protocol`` was given (each protocol reads what it needs)."""

    gt: Path
    pred: Path
    hierarchy: Path | None = None
    iou_mode: Literal["auto", "devkit", "continuous"] = "auto"
    ap_method: Literal["11point", "allpoint"] = "11point"
    fixed: bool = False
    iou_type: str | None = None
    iou_thrs: tuple[float, ...] | None = None
    max_dets: tuple[int, ...] | None = None
    area_rng: tuple[str, ...] = ()
    kpt_sigmas: tuple[float, ...] | None = None
    quiet: bool = True


def run_protocol(protocol: str, inp: ProtocolInputs) -> EvalOutput:
    """Run one protocol; its output's metrics are the reference's keys."""
    from annokit.analysis.protocols import ProtocolOptions, evaluate_protocol
    from annokit.cli._common import ProgressBar

    opts = ProtocolOptions(iou_type=inp.iou_type, iou_thrs=inp.iou_thrs, max_dets=inp.max_dets,
                           area_rng=inp.area_rng, kpt_sigmas=inp.kpt_sigmas, hierarchy=inp.hierarchy,
                           iou_mode=inp.iou_mode, ap_method=inp.ap_method, fixed=inp.fixed)
    with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
        rep = evaluate_protocol(protocol, inp.gt, inp.pred, options=opts, progress=bar)
    text = rep.summary + "\n\n" + table(rep.per_class, list(rep.columns))
    return EvalOutput(text=text.rstrip(), metrics=rep.metrics, per_class=rep.per_class)
