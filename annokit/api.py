"""The short Python API: load and save datasets in any format, evaluate predictions from files or objects.

These are the functions ``annokit.load``, ``annokit.save`` and ``annokit.evaluate`` (imported lazily by the top
package, so ``import annokit`` stays cheap). They sit above :mod:`annokit.io`, :mod:`annokit.convert` and
:mod:`annokit.metrics` and only join them: reading a file is the readers' job, scoring is the metrics' job.

>>> import annokit
>>> gt = annokit.load("sample_data/scenes/gt.json")
>>> res = annokit.evaluate(gt, "sample_data/scenes/pred.json")
>>> round(res.metrics_dict()["AP"], 3)
0.531
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from annokit._internal.gc import freeze_imports, no_gc
from annokit._internal.progress import Progress
from annokit.errors import AnnokitWarning, FormatError, ValidationError

if TYPE_CHECKING:
    from annokit.analysis.protocols import ProtocolReport
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.core.losses import LossReport
    from annokit.metrics.coco import COCOAccumulator, COCOParams, COCOResult
    from annokit.metrics.panoptic import PanopticResult
    from annokit.metrics.semantic import SemanticAccumulator, SemanticResult

__all__ = ["accumulate_label_pairs", "coco_accumulator", "evaluate", "evaluate_coco_files", "evaluate_panoptic_files",
           "evaluate_protocol", "evaluate_semantic_folders", "load", "save"]

PathLike = str | os.PathLike[str]
R = TypeVar("R")


def load(path: PathLike, format: str | None = None, *, sidecar: bool = True) -> Dataset:
    """Read a dataset in any registered format (``annokit formats`` lists them).

    Parameters
    ----------
    path : str or path
        A file (COCO JSON, CSV) or a folder (VOC, YOLO, Cityscapes, PNG masks, class folders, ...).
    format : str, optional
        The format's name; by default it is recognised from the path
        (:func:`annokit.convert.detect_format`).
    sidecar : bool
        Fill in what a folder format has no field for from the ``annokit.json`` annokit wrote beside it.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load("sample_data/scenes/gt.json")
    >>> len(ds), len(ds.annotations)
    (48, 135)
    """
    from annokit.convert import detect_format, read_dataset

    fmt = format or detect_format(path)
    return read_dataset(path, fmt, sidecar=sidecar)


def save(ds: Dataset, path: PathLike, format: str, *, overwrite: bool = False, strict: bool = False,
         sidecar: bool = True) -> LossReport:
    """Write ``ds`` in ``format`` (atomically: the file or folder appears whole or not at all).

    Returns the loss report: every kind of information ``format`` cannot hold, counted. ``strict`` makes any loss
    an error (:class:`annokit.core.losses.LossError`, nothing written); an existing ``path`` is an error unless
    ``overwrite``.

    Examples
    --------
    >>> import tempfile
    >>> ds = load("sample_data/scenes/gt.json")
    >>> report = save(ds, tempfile.mkdtemp() + "/voc", "voc")
    >>> report.lossless  # VOC has no field for polygons and COCO ids: annokit.json keeps them
    True
    """
    from annokit.convert import write_dataset

    return write_dataset(ds, path, format, sidecar=sidecar, overwrite=overwrite, strict=strict)


def evaluate(gt: Dataset | PathLike, pred: Instances | Dataset | PathLike, *,
             iou_type: Literal["bbox", "segm", "keypoints", "rotated"] = "bbox", params: COCOParams | None = None,
             fixed: bool = False, progress: Progress | None = None) -> COCOResult:
    """COCO evaluation (all 12 numbers, precision / recall arrays, per-class AP) of ``pred`` against ``gt``.

    Parameters
    ----------
    gt : Dataset or path
        Ground truth; a path is read as COCO instances JSON.
    pred : Instances, Dataset or path
        Detections with scores (a Dataset: its annotations); a path is read as a COCO results file (a list of
        detections, :func:`annokit.io.coco.read_results`; with keypoints or ``rbox`` fields for those IoU types).
    iou_type : {"bbox", "segm", "keypoints", "rotated"}
        Boxes, masks, keypoints (OKS) or rotated boxes (ignored when ``params`` is given: ``params.iou_type``
        decides).
    params : COCOParams, optional
        IoU thresholds, maxDets, area ranges, image / category subsets (defaults equal pycocotools').
    fixed : bool
        Fix pycocotools' known defects instead of reproducing them (docs/coco-eval.md).
    progress : callable, optional
        ``progress(stage, done, total)``, called as the evaluation advances.

    Returns
    -------
    COCOResult

    Examples
    --------
    >>> res = evaluate("sample_data/scenes/gt.json", "sample_data/scenes/pred.json", iou_type="bbox")
    >>> res.stats.shape
    (12,)
    """
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.io.coco import read_instances, read_results
    from annokit.metrics.coco import COCOParams
    from annokit.metrics.coco import evaluate as coco_evaluate

    p = params if params is not None else COCOParams(iou_type=iou_type)
    with no_gc():  # parsing makes millions of small containers: the cyclic GC would rescan them over and over
        gt_ds = gt if isinstance(gt, Dataset) else read_instances(gt, fixed=fixed)
        if p.iou_type == "rotated":
            from annokit.io.rotated import with_rboxes

            gt_ds = with_rboxes(gt_ds, path=None if isinstance(gt, Dataset) else gt)
        if isinstance(pred, Dataset):
            dt = pred.annotations
        elif isinstance(pred, Instances):
            dt = pred
        elif p.iou_type in ("keypoints", "rotated"):
            from annokit.analysis.protocols import read_predictions

            gt_ds, dt = read_predictions(pred, gt_ds, p.iou_type)
        else:
            dt = read_results(pred, gt_ds, fixed=fixed)
    if dt.scores is None:
        raise ValidationError("evaluate: the predictions have no scores")
    return coco_evaluate(gt_ds, dt, params=p, fixed=fixed, progress=progress)


def evaluate_protocol(protocol: Literal["coco", "lvis", "openimages", "dota", "voc07", "voc12"], gt: PathLike,
                      pred: PathLike, *, iou_type: Literal["bbox", "segm", "keypoints", "rotated"] | None = None,
                      hierarchy: PathLike | None = None, iou_mode: Literal["auto", "continuous", "devkit"] = "auto",
                      ap_method: Literal["11point", "allpoint"] = "11point", kpt_sigmas: Sequence[float] | None = None,
                      fixed: bool = False, progress: Progress | None = None) -> ProtocolReport:
    """Evaluate the files ``pred`` against ``gt`` by a published protocol: what ``annokit eval --protocol`` prints
    and writes (docs/lvis.md, docs/keypoints.md, docs/rotated.md, docs/openimages.md, docs/dota.md,
    docs/voc-ap.md).

    Parameters
    ----------
    protocol : {"coco", "lvis", "openimages", "dota", "voc07", "voc12"}
    gt, pred : path
        As the protocol reads them: COCO-style JSON (LVIS JSON for ``lvis``) and a COCO results file; DOTA label and
        Task1 folders; a VOC folder or JSON and COCO results or the devkit's result files.
    iou_type : {"bbox", "segm", "keypoints", "rotated"}, optional
        ``coco``: any of them (default bbox); ``lvis``: bbox or segm.
    hierarchy : path, optional
        ``openimages``: the class hierarchy JSON.
    iou_mode : {"auto", "continuous", "devkit"}
        ``voc07`` / ``voc12``: overlap on pixel-edge boxes or with the devkit's ``+1``; ``auto``: continuous for a
        VOC folder (read as pixel edges), devkit for a COCO file (the issue's and VOC-style tools' convention).
    ap_method : {"11point", "allpoint"}
        ``dota``.
    kpt_sigmas : sequence of float, optional
        ``coco`` keypoints: one per keypoint (default COCO's 17 person sigmas).
    fixed : bool
        Fix the reference's known defects (each protocol's page lists them).
    progress : callable, optional

    Returns
    -------
    ProtocolReport
        ``metrics`` under the reference's key names (``None`` where it leaves a number undefined), ``per_class``,
        ``summary`` (the reference's printout where it has one), ``to_json()`` (what ``--json`` writes).

    Examples
    --------
    >>> rep = evaluate_protocol("voc12", "sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> sorted(rep.to_json())
    ['metrics', 'per_class', 'protocol']
    """
    from annokit.analysis.protocols import ProtocolOptions
    from annokit.analysis.protocols import evaluate_protocol as run

    opts = ProtocolOptions(iou_type=iou_type, hierarchy=Path(hierarchy) if hierarchy is not None else None,
                           iou_mode=iou_mode, ap_method=ap_method, fixed=fixed,
                           kpt_sigmas=tuple(float(s) for s in kpt_sigmas) if kpt_sigmas is not None else None)
    return run(protocol, gt, pred, options=opts, progress=progress)


def coco_accumulator(gt: Dataset | PathLike, *, iou_type: Literal["bbox", "segm"] = "bbox",
                     params: COCOParams | None = None, fixed: bool = False) -> COCOAccumulator:
    """A :class:`~annokit.metrics.coco.COCOAccumulator` over ``gt``: a Dataset, or a COCO instances file read here
    (the metrics layer reads no files).

    Parameters
    ----------
    gt : Dataset or path
    iou_type : {"bbox", "segm"}
        Ignored when ``params`` is given.
    params : COCOParams, optional
    fixed : bool
        Fix pycocotools' known defects (docs/coco-eval.md).

    Returns
    -------
    COCOAccumulator
        ``update`` it with detections (an Instances or COCO result dicts), ``merge`` across processes, ``compute``.

    Examples
    --------
    >>> acc = coco_accumulator("sample_data/scenes/gt.json")
    >>> import orjson
    >>> dets = orjson.loads(open("sample_data/scenes/pred.json", "rb").read())
    >>> for img in sorted({d["image_id"] for d in dets}):  # one update per image, as a training loop would
    ...     _ = acc.update([d for d in dets if d["image_id"] == img])
    >>> bool(acc.compute().stats[0] == evaluate("sample_data/scenes/gt.json", "sample_data/scenes/pred.json").stats[0])
    True
    """
    from annokit.core.dataset import Dataset
    from annokit.io.coco import read_instances
    from annokit.metrics.coco import COCOAccumulator

    ds = gt if isinstance(gt, Dataset) else read_instances(gt, fixed=fixed)
    return COCOAccumulator(ds, iou_type=iou_type, params=params, fixed=fixed)


def evaluate_coco_files(gt_path: PathLike, pred_path: PathLike, *, params: COCOParams | None = None,
                        fixed: bool = False, progress: Progress | None = None) -> COCOResult:
    """:func:`evaluate` of a COCO instances file and a COCO results file (as ``pycocotools``' ``COCOeval``).

    Box and mask evaluation read both files into columns (:func:`annokit.io.coco.read_instance_columns`,
    :func:`annokit.io.coco.read_result_objects`: the readers' checks and messages, without building the pydantic
    models, which is what ``annokit eval`` starts up on); keypoints, rotated boxes and ground truth with keypoints
    go through :func:`evaluate`. The result is the same either way.

    Examples
    --------
    >>> res = evaluate_coco_files("sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> bool(res.stats[0] == evaluate("sample_data/scenes/gt.json", "sample_data/scenes/pred.json").stats[0])
    True
    """
    for p in (gt_path, pred_path):
        if not Path(p).is_file():
            raise FormatError(p, None, "no such file")
    from annokit.metrics.coco_params import COCOParams

    prm = params if params is not None else COCOParams()
    if prm.iou_type in ("keypoints", "rotated"):
        return evaluate(gt_path, pred_path, params=prm, fixed=fixed, progress=progress)
    with no_gc():  # as evaluate: millions of small containers while parsing (and the imports: nothing to free)
        from annokit._internal import limits
        from annokit._internal.threads import one_thread
        from annokit.io.coco import read_instance_columns, read_result_objects

        # a large box results file: a forked child parses its tail while the ground truth and the head are read here
        # (on one thread each); two threads of one process gained nothing (the ground truth's read holds the lock)
        split = None
        if prm.iou_type == "bbox" and Path(pred_path).stat().st_size >= limits.SPLIT_FROM:
            from annokit.core.coco_results import SplitRead

            split = SplitRead.start(Path(pred_path), ground_truth_bytes=Path(gt_path).stat().st_size)
            if split is not None:  # the engine imported while the child finishes (~30 ms of the parent's time)
                split.meanwhile = functools.partial(importlib.import_module, "annokit.metrics.coco")
        with split or contextlib.nullcontext(), one_thread() if split else contextlib.nullcontext():
            gt = read_instance_columns(gt_path)
            dt = None
            if not gt.has_keypoints:  # keypoints have rules of their own, which the models' reader checks
                # the ground truth file's records (a dict per annotation) go before the results are read: their
                # memory is reused there
                gt = gt.columns_only(masks=prm.iou_type != "bbox")
                dt = read_result_objects(pred_path, gt, fixed=fixed, split=split)
        from annokit.metrics.coco import evaluate as coco_evaluate  # the engine: imported once the files are read
        freeze_imports()  # in the annokit command's process only: no collection goes over the modules again
        if dt is not None and dt.segmentations is not None:
            # masks: a dict and a list per detection, made while the collector was paused; resumed now, its first
            # pass would go over them all once (0.06-0.12 s for 100,000 masks). The evaluation makes no cycles:
            # the collector resumes once they are gone.
            res = coco_evaluate(cast("Dataset", gt), cast("Instances", dt), params=prm, fixed=fixed,
                                progress=progress)
            del gt, dt
            return res
    if dt is None:
        return evaluate(gt.dataset(), pred_path, params=prm, fixed=fixed, progress=progress)

    # the columns have every attribute of a Dataset / Instances that box and mask evaluation reads
    # (tests/metrics/test_coco_columns.py checks the numbers against the models' path)
    return coco_evaluate(cast("Dataset", gt), cast("Instances", dt), params=prm, fixed=fixed, progress=progress)


def evaluate_panoptic_files(gt_json: PathLike, pred_json: PathLike, gt_dir: PathLike | None = None,
                            pred_dir: PathLike | None = None, *, gt_area_source: Literal["json", "png"] = "json",
                            threads: int | None = None) -> PanopticResult:
    """PQ of a COCO panoptic prediction (JSON + PNG folder) against ground truth, as panopticapi's
    ``pq_compute(gt_json, pred_json, gt_folder, pred_folder)``.

    Parameters
    ----------
    gt_json, pred_json : str or path
        COCO panoptic JSONs; categories come from the ground truth's.
    gt_dir, pred_dir : str or path, optional
        The PNG folders (default: the JSON paths without ``.json``).
    gt_area_source : {"json", "png"}
        Ground-truth areas from the JSON (panopticapi) or from the PNG pixel counts.
    threads : int, optional
        Workers decoding and counting images in parallel (default ``min(4, cpu_count)``): forked processes on
        Linux from 48 images on (the first image here, then blocks of 16 dealt round robin, children first; each
        sends back its exact counts, so the result does not depend on the split), threads elsewhere. 0 or 1:
        everything in the calling thread.

    Returns
    -------
    PanopticResult

    Warns (:class:`annokit.errors.AnnokitWarning`) when ground-truth JSON areas disagree with the PNG pixel counts.
    Errors name the file and the image.

    Examples
    --------
    >>> r = evaluate_panoptic_files("gt.json", "pred.json")  # doctest: +SKIP
    >>> r.metrics_dict()["PQ"]  # doctest: +SKIP
    0.525
    """
    from annokit.io.coco_panoptic import read_panoptic_json, resolve_panoptic_jobs
    from annokit.metrics.panoptic import PanopticCategories

    with no_gc():  # per-segment dicts and per-image records: the cyclic GC would rescan them and find no cycles
        gt = read_panoptic_json(gt_json)
        pred = read_panoptic_json(pred_json, require_categories=False)
        cats = PanopticCategories.build(gt.category_ids, gt.isthing, gt.category_names)
        jobs = resolve_panoptic_jobs(gt, pred, gt_dir, pred_dir)
        acc, first = _panoptic_counts(jobs, cats, gt_area_source, threads)
        res: PanopticResult = acc.compute()
    if res.area_mismatches and first is not None:
        how = "the JSON areas are used, as panopticapi" if gt_area_source == "json" else "pixel counts are used"
        warnings.warn(f"{gt.path}: {res.area_mismatches} ground-truth segment(s) have a JSON area that differs "
                      f"from their PNG pixel count (first: {first[1]} segment {first[2]}: area {first[3]} vs "
                      f"{first[4]} pixels); {how}", AnnokitWarning, stacklevel=2)
    return res


#: Fewer images than this are not worth a fork (~10 ms with the transfer of the counts back; an image ~2-3 ms).
_FORK_FROM = 48


def _panoptic_counts(jobs: list[Any], cats: Any, gt_area_source: Literal["json", "png"], threads: int | None
                     ) -> tuple[Any, tuple[Any, ...] | None]:
    """The images' :class:`~annokit.metrics.panoptic.PanopticAccumulator` and first ground-truth area mismatch
    ``(image index, PNG name, segment id, JSON area, pixel count)``, on ``threads`` workers: forked processes where
    the platform forks (:func:`annokit._internal.forked.fork_split`: the first image here -- it imports what the
    decoders need --, the others in blocks dealt to this process and the children; the exact accumulators merge
    into what one pass gives), threads elsewhere, the calling thread for 0 or 1."""
    from functools import partial

    parts = _split_run(partial(_panoptic_part, jobs, cats, gt_area_source), len(jobs), threads)
    acc, first = parts[0]
    for a, f in parts[1:]:
        acc = acc.merge(a)
        first = f if first is None or (f is not None and f < first) else first
    return acc, first


def _workers(threads: int | None) -> int:
    """The workers :func:`_split_run` uses for ``threads`` (default: up to 4 CPUs)."""
    return max(1, min(4, os.cpu_count() or 1) if threads is None else threads)


def _split_run(run: Callable[..., tuple[R, int]], count: int, threads: int | None, *, pull: bool = False
               ) -> list[R]:
    """The results of ``run`` over items ``0 .. count - 1``, in item order, on ``threads`` workers (default: up to
    4 CPUs): forked processes where the platform forks and there are enough items (:func:`_forked_parts`; with
    ``pull``, blocks handed out on demand), else threads over contiguous runs of items (the first run that raises
    holds the first failing item), else here."""
    n = _workers(threads)
    from annokit._internal.forked import fork_available

    if n > 1 and count >= _FORK_FROM and fork_available():
        return _forked_parts(run, count, n, pull=pull)
    if n > 1 and count > 1:
        from concurrent.futures import ThreadPoolExecutor

        step = -(-count // n)
        with ThreadPoolExecutor(max_workers=n) as ex:
            return list(ex.map(lambda i: run(range(i * step, min((i + 1) * step, count)))[0], range(n)))
    return [run(range(count))[0]]


def _forked_parts(run: Callable[..., tuple[R, int]], count: int, workers: int, *, pull: bool = False
                  ) -> list[R]:
    """The results of ``run`` over items ``0 .. count - 1`` on ``workers`` processes: item 0 here first (it
    imports what the children need), the others by :func:`annokit._internal.forked.fork_split` (blocks dealt in
    advance) or, with ``pull``, :func:`~annokit._internal.forked.fork_pull` (blocks taken on demand: ``run`` must
    take its items lazily) -- ``run(items, strict=False)`` stops at the first failure --, then what no worker
    finished (a failing item and those after it, or a dead child's share) here with ``run(items)``, which raises
    the first error in item order. Merged in any order, exact counts give what one pass gives."""
    from functools import partial

    from annokit._internal import forked

    head = run(range(1))[0]
    split = (forked.fork_pull if pull else forked.fork_split)(range(1, count), partial(run, strict=False),
                                                              workers=workers)
    return [head, *split.results, *([run(split.leftover)[0]] if split.leftover else [])]


def _panoptic_part(jobs: list[Any], cats: Any, gt_area_source: Literal["json", "png"], items: Sequence[int],
                   *, strict: bool = True) -> tuple[tuple[Any, tuple[Any, ...] | None], int]:
    """``((accumulator, first mismatch), done)`` of the images ``items`` (indices into ``jobs``), in order; with
    ``strict=False`` (in :func:`fork_split`) the first that fails stops the part instead of raising, ``done``
    saying how many were counted."""
    stats = ((i, _panoptic_image(jobs[i], cats, gt_area_source)) for i in items)
    return _panoptic_add(cats, gt_area_source, stats, strict=strict)


def _panoptic_add(cats: Any, gt_area_source: Literal["json", "png"], stats: Any, *, strict: bool = True
                  ) -> tuple[tuple[Any, tuple[Any, ...] | None], int]:
    """The ``(index, (PanopticImageStats, PNG name))`` of ``stats`` added to a new accumulator, as
    :func:`_panoptic_part` returns them."""
    from annokit.metrics.panoptic import PanopticAccumulator

    acc = PanopticAccumulator(cats, gt_area_source=gt_area_source)
    first: tuple[Any, ...] | None = None
    try:
        for i, (st, name) in stats:
            if st.first_mismatch is not None and first is None:
                first = (i, name, *st.first_mismatch)
            acc.add_stats(st)
    except Exception:
        if strict:
            raise
    return (acc, first), acc.n_images


def _panoptic_image(job: tuple[Any, Path, Any, Path], cats: Any, gt_area_source: Literal["json", "png"]
                    ) -> tuple[Any, str]:
    """``(PanopticImageStats, ground-truth PNG name)`` of one ``(gt image, gt PNG, pred image, pred PNG)`` job."""
    from annokit.io.coco_panoptic import align_id_rows, read_id_png_rows
    from annokit.metrics.panoptic import PanopticError, pq_image_stats

    g, gp, pr, pp = job
    ga, pa = read_id_png_rows(gp), read_id_png_rows(pp)  # rows the PNGs mark as repeats are counted, not read
    if (ga.height, ga.ids.shape[1]) != (pa.height, pa.ids.shape[1]):
        raise FormatError(pp, None, f"size {pa.ids.shape[1]}x{pa.height} differs from the ground truth's "
                                    f"{ga.ids.shape[1]}x{ga.height} ({gp.name})")
    gi, pi, weights = align_id_rows(ga, pa)
    try:
        st = pq_image_stats(gi, g.segment_ids, g.category_ids, g.iscrowd, g.area, pi, pr.segment_ids,
                            pr.category_ids, cats, gt_area_source=gt_area_source, row_weights=weights)
    except PanopticError as exc:
        raise FormatError(pp, f"image {g.image_id!r}", str(exc)) from None
    return st, gp.name


def _png_names(root: str, rel: str = "") -> list[str]:
    """The relative names (``os.sep``-joined) of the ``*.png`` files under ``root``, its subfolders included but not
    those reached through a symbolic link (as ``Path.rglob``), unsorted. One ``os.scandir`` a folder and strings
    only: pathlib's per-path objects cost ~20 ms a 1,000 files, most of a 500-pair evaluation's serial start."""
    names: list[str] = []
    folder = os.path.join(root, rel) if rel else root
    try:
        it = os.scandir(folder)
    except OSError as exc:
        raise FormatError(folder, None, f"cannot list the folder ({exc.strerror or exc})") from None
    with it:
        for e in it:
            name = os.path.join(rel, e.name) if rel else e.name
            if e.name.endswith(".png") and e.is_file():
                names.append(name)
            elif e.is_dir(follow_symlinks=False):
                names += _png_names(root, name)
    return names


def _label_pairs(gt_dir: str, pred_dir: str) -> list[tuple[str, str]]:
    """Every ground-truth PNG under ``gt_dir`` with the prediction of the same relative name under ``pred_dir``,
    sorted by that name."""
    for d, what in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        if not os.path.isdir(d):
            raise FormatError(d, None, f"{what} folder of label-map PNGs not found")
    gts = sorted(_png_names(gt_dir))
    if not gts:
        raise FormatError(gt_dir, None, "no PNG files found")
    pairs = []
    for rel in gts:
        p = os.path.join(pred_dir, rel)
        if not os.path.isfile(p):
            raise FormatError(pred_dir, None, f"no prediction PNG for ground truth {rel}")
        pairs.append((os.path.join(gt_dir, rel), p))
    return pairs


def evaluate_semantic_folders(gt_dir: PathLike, pred_dir: PathLike, num_classes: int, *, ignore_index: int = 255,
                              reduce_zero_label: bool = False, class_names: Sequence[str] | None = None,
                              threads: int | None = None) -> SemanticResult:
    """Semantic-segmentation metrics (mIoU, per-class IoU, ...) of a folder of predicted label-map PNGs against a
    folder of ground-truth ones, as mmsegmentation's ``IoUMetric`` (:mod:`annokit.metrics.semantic`).

    Parameters
    ----------
    gt_dir, pred_dir : str or path
        Folders of palette or grayscale PNGs (class id = palette index or gray value); every ground-truth PNG
        needs the prediction of the same relative path.
    num_classes : int
        Classes ``0 .. num_classes - 1``.
    ignore_index, reduce_zero_label, class_names
        As :class:`annokit.metrics.semantic.SemanticAccumulator`.
    threads : int, optional
        Pairs counted in parallel (default ``min(4, cpu_count)``; 0 or 1 = all in this thread, no pool). Each
        thread counts integers into its own histogram, merged by addition, so the result is bit-identical
        whatever the number.

    Returns
    -------
    SemanticResult

    Notes
    -----
    From :data:`annokit.io.labelpairs.COMPILED_FROM_PAIRS` pairs a worker on where other work keeps every CPU busy,
    from twice that (:data:`~annokit.io.labelpairs.IDLE_FACTOR`) elsewhere, or once this process has loaded it
    (:func:`annokit.io.labelpairs.use_compiled_loop`), 8-bit gray / palette PNGs are counted from their compressed
    rows by a compiled loop (:func:`annokit.io.labelpairs.count_label_pairs`: ~0.8 ms of CPU a pair of 640x480 maps,
    no GIL held, after a one-off ~1.1 s of CPU and ~120 MB to import and load it); smaller folders, and any other
    PNG, are decoded (:func:`annokit.io.labelmap.read_label_map`) and counted by ``update``. The counts are the
    same.

    Examples
    --------
    >>> r = evaluate_semantic_folders("gt_labels", "pred_labels", 19)  # doctest: +SKIP
    >>> r.mIoU  # doctest: +SKIP
    0.7321
    """
    from annokit.metrics.semantic import SemanticAccumulator

    acc = SemanticAccumulator(num_classes, ignore_index=ignore_index, reduce_zero_label=reduce_zero_label,
                              class_names=class_names)
    return accumulate_label_pairs(acc, _label_pairs(os.fspath(gt_dir), os.fspath(pred_dir)), threads=threads).compute()


def accumulate_label_pairs(acc: SemanticAccumulator, pairs: Sequence[tuple[PathLike, PathLike]], *,
                           threads: int | None = None) -> SemanticAccumulator:
    """``acc`` merged with the counts of ground-truth / prediction label-map PNG pairs (what
    :func:`evaluate_semantic_folders` counts, for callers that pair the files themselves).

    Parameters
    ----------
    acc : SemanticAccumulator
        The settings (and anything already counted); not modified.
    pairs : sequence of (path, path)
        ``(ground-truth PNG, prediction PNG)``, counted as if in this order (the first that fails raises).
    threads : int, optional
        Workers (default ``min(4, cpu_count)``): forked processes on Linux from 48 pairs on (the first pair here,
        then blocks of 16 dealt round robin, children first, by :func:`annokit._internal.forked.fork_split`; each
        sends back its integer counts, merged in a fixed order, so the result is bit-identical whatever the
        split; a child that dies has its pairs counted here), threads elsewhere; 0 or 1: all in this thread.

    Returns
    -------
    SemanticAccumulator
        A new accumulator.

    Examples
    --------
    >>> from annokit.metrics.semantic import SemanticAccumulator
    >>> acc = accumulate_label_pairs(SemanticAccumulator(19), [("gt/a.png", "pred/a.png")])  # doctest: +SKIP
    """
    from functools import partial

    from annokit.io.labelpairs import use_compiled_loop

    items = [(os.fspath(g), os.fspath(p)) for g, p in pairs]
    compiled = use_compiled_loop(len(items), _workers(threads) if len(items) >= _FORK_FROM else 1)
    parts = _split_run(partial(_semantic_part, acc.empty_like, items, compiled=compiled), len(items), threads,
                       pull=True)
    total = acc
    for a in parts:
        total = total.merge(a)
    return total


def _semantic_part(new: Callable[[], SemanticAccumulator], pairs: list[tuple[str, str]], items: Iterable[int],
                   *, compiled: bool, strict: bool = True) -> tuple[SemanticAccumulator, int]:
    """``(accumulator, done)`` of the label-map pairs ``items`` (indices into ``pairs``, taken one at a time, as
    :func:`annokit._internal.forked.fork_pull` hands them out), in order; with ``strict=False`` the first pair
    that fails stops the part instead of raising, ``done`` saying how many were counted."""
    return _count_semantic_pairs(new(), (pairs[i] for i in items), compiled=compiled, strict=strict)


def _count_semantic_pairs(acc: SemanticAccumulator, pairs: Iterable[tuple[str, str]], *, compiled: bool,
                          strict: bool = True) -> tuple[SemanticAccumulator, int]:
    """``(acc, done)``: ``acc`` with the label-map pairs added -- with ``compiled``, 8-bit gray / palette PNGs
    counted from their compressed rows (:func:`annokit.io.labelpairs.count_label_pairs`); any other pair decoded
    and added by ``update`` --, ``done`` of them; with ``strict=False`` a pair that fails stops the count (``acc``
    then holds the pairs before it) instead of raising."""
    import numpy as np

    from annokit.io.labelpairs import PAIR_BINS

    counts = np.zeros(PAIR_BINS, np.int64) if compiled else None  # the compiled loop's table
    bufs: list[Any] = [None, None]  # buffers the next maps of the same size may be decoded into
    done = 0
    try:
        for gf, pf in pairs:
            _count_semantic_pair(acc, gf, pf, counts, bufs, compiled=compiled)
            done += 1
    except Exception:
        if strict:
            raise
    return (acc if counts is None else acc.add_pair_counts(counts)), done


def _count_semantic_pair(acc: SemanticAccumulator, gf: str, pf: str, counts: Any, bufs: list[Any], *,
                         compiled: bool) -> None:
    """One pair into ``counts`` (the compiled loop) or ``acc`` (decoded); nothing added when it raises."""
    from annokit.io.labelmap import read_label_map_file
    from annokit.io.labelpairs import count_label_pairs

    if compiled and count_label_pairs(gf, pf, counts):
        return
    g = bufs[0] = read_label_map_file(gf, out=bufs[0])
    p = bufs[1] = read_label_map_file(pf, out=bufs[1])
    if g.shape != p.shape:
        raise FormatError(pf, None, f"size {p.shape[1]}x{p.shape[0]} differs from the ground truth's "
                                    f"{g.shape[1]}x{g.shape[0]} ({os.path.basename(gf)})")
    try:
        acc.update(g, p)
    except ValueError as exc:
        raise FormatError(gf, None, str(exc)) from None
