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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from annokit.cli._eval_tasks import EvalOutput
from annokit.cli._format import table

if TYPE_CHECKING:
    from annokit.analysis.protocols import ProtocolOptions, ProtocolReport

__all__ = ["PROTOCOLS", "PAGE_PROTOCOLS", "CocoParamOptions", "ProtocolInputs", "coco_param_options", "page_protocol",
           "protocol_options", "protocol_report", "refuse_folders", "run_protocol"]

PAGE_PROTOCOLS = ("dota", "lvis", "openimages", "voc07", "voc12")
"""The ``--protocol`` choices of ``annokit report`` and ``compare`` (COCO bbox / segm is their default page;
COCO keypoints and rotated boxes come with ``--iou-type``)."""
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T", int, float)

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

    def options(self) -> ProtocolOptions:
        """As :class:`~annokit.analysis.protocols.ProtocolOptions`."""
        from annokit.analysis.protocols import ProtocolOptions

        return ProtocolOptions(iou_type=self.iou_type, iou_thrs=self.iou_thrs, max_dets=self.max_dets,
                               area_rng=self.area_rng, kpt_sigmas=self.kpt_sigmas, hierarchy=self.hierarchy,
                               iou_mode=self.iou_mode, ap_method=self.ap_method, fixed=self.fixed)


# ------------------------------------------------------------------------------------------------ COCO parameters
def _number_list(parse: Callable[[str], T], example: str, valid: Callable[[T], bool],
                 rule: str) -> Callable[[click.Context, click.Parameter, str | None], tuple[T, ...] | None]:
    """A click callback reading a comma-separated list of numbers (``parse``), each ``valid`` (else ``rule``)."""

    def callback(ctx: click.Context, param: click.Parameter, text: str | None) -> tuple[T, ...] | None:
        if not text:
            return None
        try:
            vals = tuple(parse(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise click.BadParameter(f"{text!r}: expected comma-separated {parse.__name__}s, e.g. {example}") from None
        if not vals or not all(valid(v) for v in vals):
            raise click.BadParameter(f"{text!r}: {rule}")
        return vals

    return callback


_iou_list = _number_list(float, "0.5,0.75", lambda v: 0.0 <= v <= 1.0, "IoU thresholds are numbers in [0, 1]")
_sigma_list = _number_list(float, "0.079,0.079,0.072", lambda v: v > 0, "sigmas are positive numbers")
_int_list = _number_list(int, "1,10,100", lambda v: v >= 1, "maxDets are integers >= 1")


def coco_param_options(f: F) -> F:
    """``--iou-thrs``, ``--max-dets``, ``--area-rng``, ``--kpt-sigmas``: COCO's evaluation parameters, one definition
    (names, parsing, checks) for ``annokit eval``, ``report`` and ``compare``."""
    options = [
        click.option("--iou-thrs", default=None, callback=_iou_list,
                     help="COCO (detection, keypoints, rotated): comma-separated IoU (OKS) thresholds (default "
                          ".50:.05:.95)."),
        click.option("--max-dets", default=None, callback=_int_list,
                     help="COCO: comma-separated maxDets (default 1,10,100; keypoints 20)."),
        click.option("--area-rng", "area_rng", multiple=True,
                     help="COCO: named area range NAME=LO:HI (repeatable; replaces small/medium/large)."),
        click.option("--kpt-sigmas", default=None, callback=_sigma_list,
                     help="keypoints: comma-separated per-keypoint OKS sigmas (default COCO's 17 person sigmas)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


@dataclass(frozen=True)
class CocoParamOptions:
    """What :func:`coco_param_options` read."""

    iou_thrs: tuple[float, ...] | None = None
    max_dets: tuple[int, ...] | None = None
    area_rng: tuple[str, ...] = ()
    kpt_sigmas: tuple[float, ...] | None = None

    def given(self) -> list[str]:
        """The options given, by name."""
        return [n for n, v in (("--iou-thrs", self.iou_thrs), ("--max-dets", self.max_dets),
                               ("--area-rng", self.area_rng), ("--kpt-sigmas", self.kpt_sigmas)) if v]

    def check(self, protocol: str | None, iou_type: str, *, coco_page: bool) -> None:
        """Refuse the options the page would not read: any with a protocol other than COCO's, ``--kpt-sigmas``
        without keypoints, any on a COCO bbox / segm page that has its own fixed parameters (``coco_page``
        False)."""
        given = self.given()
        if not given:
            return
        if self.kpt_sigmas and iou_type != "keypoints":
            raise click.UsageError("--kpt-sigmas goes with --iou-type keypoints")
        if protocol not in (None, "coco"):
            raise click.UsageError(f"{', '.join(given)}: COCO's parameters; --protocol {protocol} has its own")
        if protocol is None and not coco_page:
            raise click.UsageError(f"{', '.join(given)}: the pages of --iou-type keypoints and rotated (the report's "
                                   "COCO bbox / segm page uses COCO's defaults)")


def protocol_options(f: F) -> F:
    """``--protocol``, ``--hierarchy``, ``--iou-mode``, ``--ap-method`` of ``annokit report`` and ``compare``."""
    options = [
        click.option("--protocol", type=click.Choice(PAGE_PROTOCOLS), default=None,
                     help="A published protocol instead of COCO: its metrics and per-class table (the numbers of "
                          "annokit eval --protocol); COCO-only sections are listed as not available."),
        click.option("--hierarchy", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="openimages: the class hierarchy JSON."),
        click.option("--iou-mode", type=click.Choice(["continuous", "devkit"]), default=None,
                     help="voc07/voc12: as annokit eval --iou-mode."),
        click.option("--ap-method", type=click.Choice(["11point", "allpoint"]), default=None,
                     help="dota: VOC07 11-point (default) or VOC12 all-point AP."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def page_protocol(protocol: str | None, iou_type: str, *, src_format: str | None = None,
                  slice_by: str | None = None, slices_file: Path | None = None) -> str | None:
    """The protocol ``annokit report`` / ``compare`` run (``coco`` for ``--iou-type keypoints|rotated``; None:
    their COCO bbox / segm page); refuses the options only that page takes."""
    if protocol is None and iou_type in ("keypoints", "rotated"):
        protocol = "coco"
    if protocol is None:
        return None
    if protocol == "lvis" and iou_type not in ("bbox", "segm"):
        raise click.UsageError("--protocol lvis takes --iou-type bbox or segm")
    if protocol not in ("coco", "lvis") and iou_type != "bbox":
        raise click.UsageError(f"--protocol {protocol} has no --iou-type (its own matching)")
    if src_format is not None or slice_by is not None or slices_file is not None:
        raise click.UsageError("--from, --slice-by and --slices: the COCO bbox / segm page only (a protocol reads "
                               "its own inputs)")
    return protocol


def refuse_folders(*preds: Path) -> None:
    """The COCO page reads one results file: a folder (a protocol's result files) is one line naming it."""
    from annokit.errors import FormatError

    for p in preds:
        if p.is_dir():
            raise FormatError(p, None, "expected a COCO results JSON file (a folder of result files needs "
                                       "--protocol dota, voc07 or voc12)")


def protocol_report(protocol: str, inp: ProtocolInputs, *, label: str = "annokit eval") -> ProtocolReport:
    """Evaluate one protocol with a progress bar named ``label``."""
    from annokit.analysis.protocols import evaluate_protocol
    from annokit.cli._common import ProgressBar

    with ProgressBar(label, None, quiet=inp.quiet) as bar:
        return evaluate_protocol(protocol, inp.gt, inp.pred, options=inp.options(), progress=bar)


def run_protocol(protocol: str, inp: ProtocolInputs) -> EvalOutput:
    """Run one protocol; its output's metrics are the reference's keys."""
    rep = protocol_report(protocol, inp)
    text = rep.summary + "\n\n" + table(rep.per_class, list(rep.columns))
    return EvalOutput(text=text.rstrip(), metrics=rep.metrics, per_class=rep.per_class)
