"""Run a predictor over a folder or a dataset, in batches, and write what ``annokit eval`` reads.

>>> from annokit.predict import load_predictor, images_from_dataset, run_predictor, write_predictions
>>> p = load_predictor("onnx", model="sample_data/model/scenes_cnn.onnx", task="detection")  # doctest: +SKIP
>>> items, _ = images_from_dataset("sample_data/scenes/gt.json")  # doctest: +SKIP
>>> write_predictions(run_predictor(p, items), "pred.json")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError, FormatError
from annokit.predict.base import Prediction, PredictionError, Predictor, Task
from annokit.predict.images import IMAGE_SUFFIXES, ImageItem, ImageRange, load_image

__all__ = ["RunResult", "RunFailed", "run_predictor", "write_predictions", "IMAGE_SUFFIXES"]

PathLike = str | os.PathLike[str]


@dataclass
class RunResult:
    """What a run produced: predictions of the images that worked, in order, and the failures."""

    task: Task
    labels: LabelSet
    items: list[ImageItem] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    failures: list[tuple[ImageItem, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Images attempted: predicted plus failed."""
        return len(self.items) + len(self.failures)

    def instances(self) -> Instances:
        """All detections as one :class:`Instances`, ``image_ids`` set from the items."""
        parts = [(it.image_id, p.instances) for it, p in zip(self.items, self.predictions) if p.instances is not None]
        if not parts:
            return Instances.empty(with_scores=True)
        has_segs = any(inst.segmentations is not None for _, inst in parts)
        segs: list[Any] = []
        for _, inst in parts:
            if has_segs:
                segs.extend(inst.segmentations if inst.segmentations is not None else [None] * len(inst))
        return Instances(image_ids=np.concatenate([np.full(len(inst), i, np.int64) for i, inst in parts]),
                         boxes=np.concatenate([inst.boxes for _, inst in parts]),
                         labels=np.concatenate([inst.labels for _, inst in parts]),
                         scores=np.concatenate([_scores(inst) for _, inst in parts]),
                         segmentations=segs if has_segs else None)


def _scores(inst: Instances) -> np.ndarray:
    if inst.scores is None:
        raise AnnokitError("a prediction's instances have no scores")
    return inst.scores


class RunFailed(AnnokitError):
    """Every image of a run failed: nothing to write. ``failures`` lists them with their reasons."""

    def __init__(self, failures: list[tuple[ImageItem, str]]) -> None:
        self.failures = failures
        it, why = failures[0]
        super().__init__(f"all {len(failures)} images failed, nothing was predicted (the first: {it.path}: {why})")


def _check_output(preds: Any, images: Sequence[np.ndarray], task: Task) -> None:
    if not isinstance(preds, (list, tuple)) or len(preds) != len(images):
        n = len(preds) if isinstance(preds, (list, tuple)) else type(preds).__name__
        raise RuntimeError(f"backend returned {n} predictions for {len(images)} images")
    for p, im in zip(preds, images):
        if not isinstance(p, Prediction):
            raise RuntimeError(f"backend returned a {type(p).__name__}, not a Prediction")
        if p.task != task:
            raise RuntimeError(f"backend returned a {p.task.value} prediction; the predictor's task is {task.value}")
        if tuple(p.image_hw) != im.shape[:2]:
            raise RuntimeError(f"prediction is for an image of {tuple(p.image_hw)}, the image is {im.shape[:2]}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, PredictionError):
        return exc.reason
    if isinstance(exc, AnnokitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


Loaded = list[tuple[ImageItem, "np.ndarray | PredictionError"]]


class _Collector:
    """The results of a run as batches come in: kept predictions (thresholded), failures (or the error)."""

    def __init__(self, predictor: Predictor, skip_failures: bool, score_threshold: float | None) -> None:
        self.predictor = predictor
        self.task = Task(predictor.task)
        self.result = RunResult(task=self.task, labels=predictor.labels)
        self.skip_failures = skip_failures
        self.score_threshold = score_threshold

    def fail(self, item: ImageItem, why: str) -> None:
        if not self.skip_failures:
            raise PredictionError(f"{item.path} (image id {item.image_id})", why)
        self.result.failures.append((item, why))

    def keep(self, item: ImageItem, pred: Prediction) -> None:
        inst = pred.instances
        if self.score_threshold is not None and inst is not None and inst.scores is not None:
            pred = pred.model_copy(update={"instances": inst[inst.scores >= self.score_threshold]})
        self.result.items.append(item)
        self.result.predictions.append(pred)

    def batch(self, read: Loaded) -> None:
        """Predict one batch; when it fails, retry its images one by one to find which fail and why."""
        loaded: list[tuple[ImageItem, np.ndarray]] = []
        for it, im in read:
            if isinstance(im, PredictionError):
                self.fail(it, im.reason)
            else:
                loaded.append((it, im))
        if not loaded:
            return
        imgs = [im for _, im in loaded]
        try:
            preds = self.predictor.predict(imgs)
            _check_output(preds, imgs, self.task)
        except Exception as exc:  # a backend may raise anything: find the image
            if len(loaded) == 1:
                self.fail(loaded[0][0], _why(exc))
                return
            for it, im in loaded:
                try:
                    one = self.predictor.predict([im])
                    _check_output(one, [im], self.task)
                except Exception as exc1:
                    self.fail(it, _why(exc1))
                    continue
                self.keep(it, one[0])
            return
        for (it, _), p in zip(loaded, preds):
            self.keep(it, p)


def run_predictor(predictor: Predictor, items: Sequence[ImageItem], *, batch_size: int | None = None,
                  skip_failures: bool = False, score_threshold: float | None = None,
                  image_range: ImageRange = "auto", progress: Progress | None = None,
                  close: bool = True) -> RunResult:
    """Predict every item, ``batch_size`` at a time (default: the predictor's ``batch_size``, else 8).

    Parameters
    ----------
    predictor : a :class:`~annokit.predict.base.Predictor`; its ``warmup()`` is called before the first batch and,
        with ``close`` (default), its ``close()`` after the last (also when the run fails)
    items : the images (:func:`~annokit.predict.images.images_from_dir`, ``images_from_dataset``)
    batch_size : images per ``predict`` call
    skip_failures : record failing images in ``failures`` and go on, instead of raising
    score_threshold : drop detections scored below it
    image_range : how images of more than 8 bits are scaled (:func:`~annokit.predict.images.load_image`)
    progress : ``progress("predict", done, total)`` after each batch
    close : call the predictor's ``close()`` at the end

    Returns
    -------
    RunResult

    Raises
    ------
    PredictionError
        An image failed (without ``skip_failures``): the message names it and says why. A batch that fails is
        retried image by image to find which image fails; an unreadable image, or one whose size is not what the
        dataset records, fails the same way.
    RunFailed
        Every image failed (with ``skip_failures``): there is nothing to write.
    """
    col = _Collector(predictor, skip_failures, score_threshold)
    bs = int(batch_size or getattr(predictor, "batch_size", None) or 8)
    try:
        warm = getattr(predictor, "warmup", None)
        if callable(warm):
            warm()
        _run_batches(col, [list(items[i:i + bs]) for i in range(0, len(items), bs)], image_range, progress)
    finally:
        closer = getattr(predictor, "close", None)
        if close and callable(closer):
            closer()
    if items and not col.result.items:
        raise RunFailed(col.result.failures)
    return col.result


def _run_batches(col: _Collector, batches: list[list[ImageItem]], image_range: ImageRange,
                 progress: Progress | None) -> None:
    """The next batch's files are read and decoded on a second thread while the model runs on this one (image
    decoders and inference engines release the GIL); at most two batches of images are in memory."""
    total = sum(len(b) for b in batches)
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="annokit-load") as pool:
        pending: Future[Loaded] | None = pool.submit(_load_batch, batches[0], image_range) if batches else None
        for k, batch in enumerate(batches):
            assert pending is not None
            read = pending.result()
            pending = pool.submit(_load_batch, batches[k + 1], image_range) if k + 1 < len(batches) else None
            col.batch(read)
            done += len(batch)
            if progress is not None:
                progress("predict", done, total)


def _load_batch(batch: Sequence[ImageItem], image_range: ImageRange) -> Loaded:
    """Read a batch's images; an unreadable one (or one not of the size its dataset records) comes back as its
    error, in its place."""
    out: Loaded = []
    for it in batch:
        try:
            im = load_image(it.path, image_range=image_range)
            if it.expected_hw is not None and im.shape[:2] != tuple(it.expected_hw):
                h, w = im.shape[:2]
                eh, ew = it.expected_hw
                raise PredictionError(str(it.path), f"the image is {w}x{h} pixels but the dataset says {ew}x{eh} "
                                                    "(predictions would not be in the dataset's frame)")
            out.append((it, im))
        except PredictionError as exc:
            out.append((it, exc))
    return out


# ------------------------------------------------------------------------------------------------ writing
def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    a = np.asarray(arr)
    if a.dtype == np.uint8:
        img = Image.fromarray(a)
    elif a.min(initial=0) >= 0 and a.max(initial=0) < 65536:
        img = Image.fromarray(a.astype(np.uint16))
    else:
        raise FormatError(None, None, f"label ids outside 0..65535 cannot be written as PNG ({a.min()}..{a.max()})")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _refuse_existing(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise FormatError(out, None, "destination exists (pass overwrite=True / --overwrite to replace it)")


def _write_label_maps(result: RunResult, out: Path, overwrite: bool) -> list[Path]:
    """One PNG per image in a folder that appears whole or not at all (a temporary sibling, then a rename)."""
    from annokit._internal.files import atomic_dir
    from annokit._internal.paths import safe_join

    names: dict[str, str] = {}
    for it in result.items:
        rel = Path(it.file_name).with_suffix(".png").as_posix()
        if rel.lower() in names:
            raise FormatError(out, None, f"{it.file_name!r} and {names[rel.lower()]!r} would both write {rel!r}")
        names[rel.lower()] = it.file_name
    rels = [Path(it.file_name).with_suffix(".png").as_posix() for it in result.items]
    with atomic_dir(out, overwrite=overwrite) as tmp:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # the temporary folder is private (0700); the result is an ordinary folder
        for rel, p in zip(rels, result.predictions):
            dest = safe_join(tmp, rel, where="file name")
            dest.parent.mkdir(parents=True, exist_ok=True)
            assert p.label_map is not None
            dest.write_bytes(_png(p.label_map))
    return [safe_join(out, rel) for rel in rels]


def write_predictions(result: RunResult, out: PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write a run in the form ``annokit eval`` reads; returns the files written.

    * detection / instance: a COCO results JSON (``bbox``, ``score``; ``segmentation`` as compressed RLE);
    * semantic: ``out`` is a folder; one label-map PNG per image (8-bit, or 16-bit for ids over 255), named as
      the image with a ``.png`` suffix;
    * classification: a CSV ``file,<label 1>,<label 2>,...`` of scores.

    Every output appears whole or not at all (written beside, then renamed). An existing ``out`` is refused
    unless ``overwrite``; then it is replaced once the new one is complete.
    """
    from annokit._internal.files import write_bytes_atomic

    out = Path(out)
    if result.task == Task.SEMANTIC:
        return _write_label_maps(result, out, overwrite)
    _refuse_existing(out, overwrite)
    if result.task in (Task.DETECTION, Task.INSTANCE):
        from annokit.io.coco import write_results

        write_results(result.instances(), out)
        return [out]
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["file", *result.labels.names])
    for it, p in zip(result.items, result.predictions):
        assert p.class_scores is not None
        wr.writerow([it.file_name, *(f"{v:.6g}" for v in p.class_scores)])
    write_bytes_atomic(out, buf.getvalue().encode())
    return [out]
