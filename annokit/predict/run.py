"""Run a predictor over a folder or a dataset, in batches, and write what ``annokit eval`` reads.

>>> from annokit.predict import load_predictor, images_from_dataset, run_predictor, write_predictions
>>> p = load_predictor("onnx", model="sample_data/model/scenes_cnn.onnx", task="detection")  # doctest: +SKIP
>>> items, _ = images_from_dataset("coco:sample_data/scenes/gt.json")  # doctest: +SKIP
>>> write_predictions(run_predictor(p, items), "pred.json")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError, FormatError
from annokit.predict.base import Prediction, PredictionError, Predictor, Task

__all__ = ["ImageItem", "RunResult", "images_from_dir", "images_from_dataset", "load_image", "run_predictor",
           "write_predictions", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm")
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ImageItem:
    """An image to predict: its id (as in the ground truth), its name in outputs, and where it is."""

    image_id: int
    file_name: str
    path: Path


@dataclass
class RunResult:
    """What a run produced: predictions of the images that worked, in order, and the failures."""

    task: Task
    labels: LabelSet
    items: list[ImageItem] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    failures: list[tuple[ImageItem, str]] = field(default_factory=list)

    def instances(self) -> Instances:
        """All detections as one :class:`Instances`, ``image_ids`` set from the items."""
        parts = [(it.image_id, p.instances) for it, p in zip(self.items, self.predictions) if p.instances is not None]
        img, boxes, labels, scores, segs = [], [], [], [], []
        has_segs = any(inst.segmentations is not None for _, inst in parts)
        for image_id, inst in parts:
            img.append(np.full(len(inst), image_id, np.int64))
            boxes.append(inst.boxes)
            labels.append(inst.labels)
            scores.append(inst.scores)
            if has_segs:
                segs.extend(inst.segmentations if inst.segmentations is not None else [None] * len(inst))
        if not parts:
            return Instances(image_ids=np.zeros(0, np.int64), boxes=np.zeros((0, 4)), labels=np.zeros(0, np.int64),
                             scores=np.zeros(0))
        return Instances(image_ids=np.concatenate(img), boxes=np.concatenate(boxes), labels=np.concatenate(labels),
                         scores=np.concatenate(scores), segmentations=segs if has_segs else None)


def images_from_dir(directory: PathLike, *, recursive: bool = False) -> list[ImageItem]:
    """Image files of ``directory`` in sorted order, ids 1..N, names relative to the folder."""
    d = Path(directory)
    if not d.is_dir():
        raise FormatError(d, None, "not a folder of images")
    files = sorted(p for p in (d.rglob("*") if recursive else d.iterdir())
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FormatError(d, None, f"no image files ({', '.join(IMAGE_SUFFIXES)})")
    return [ImageItem(i, p.relative_to(d).as_posix(), p) for i, p in enumerate(files, start=1)]


def images_from_dataset(spec: str, *, image_root: PathLike | None = None) -> tuple[list[ImageItem], Any]:
    """Images of a dataset given as ``FORMAT:PATH``.

    * ``coco:gt.json``: the images of a COCO file, with its ids; files under ``image_root`` (default: an
      ``images`` folder beside the file if there is one, else the file's folder). Returns the Dataset too.
    * ``csv:labels.csv``: the ``file`` column of a classification CSV (ids 1..N in file order), files under
      ``image_root`` (default: ``images`` beside the CSV if there is one, else its folder).
    * ``images:DIR``: every image of a folder (as ``--images``).
    """
    fmt, sep, path = spec.partition(":")
    if not sep or not path:
        raise FormatError(spec, None, "expected FORMAT:PATH, e.g. coco:gt.json, csv:labels.csv or images:DIR")
    p = Path(path)
    if fmt == "images":
        return images_from_dir(p), None
    if not p.is_file():
        raise FormatError(p, None, "no such file")
    root = Path(image_root) if image_root is not None else (
        p.parent / "images" if (p.parent / "images").is_dir() else p.parent)
    if fmt == "coco":
        from annokit.io.coco import read_instances

        ds = read_instances(p)
        items = [ImageItem(int(i), fn, root / fn) for i, fn in zip(ds.images.ids.tolist(), ds.images.file_names)]
        return items, ds
    if fmt == "csv":
        with open(p, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and "file" not in rows[0]:
            raise FormatError(p, "header", "expected a 'file' column")
        return [ImageItem(i, r["file"], root / r["file"]) for i, r in enumerate(rows, start=1)], None
    raise FormatError(spec, None, f"unknown dataset format {fmt!r} (coco, csv or images)")


def load_image(path: PathLike) -> np.ndarray:
    """An image file -> ``(H, W, 3)`` uint8 RGB (grey, palette and alpha images are converted)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise PredictionError(str(path), "no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PredictionError(str(path), f"cannot read the image: {exc}") from None


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


def run_predictor(predictor: Predictor, items: Sequence[ImageItem], *, batch_size: int | None = None,
                  skip_failures: bool = False, score_threshold: float | None = None,
                  progress: Progress | None = None) -> RunResult:
    """Predict every item, ``batch_size`` at a time (default: the predictor's ``batch_size``, else 8).

    A batch that fails is retried image by image to find which image fails and why; that image raises
    :class:`PredictionError` naming it, or, with ``skip_failures``, is recorded in ``failures`` and the run goes
    on. Unreadable images count as failures the same way. ``score_threshold`` drops detections below it.
    ``progress("predict", done, total)`` is called after each batch (images done of all).
    """
    task = Task(predictor.task)
    bs = int(batch_size or getattr(predictor, "batch_size", None) or 8)
    result = RunResult(task=task, labels=predictor.labels)

    def fail(item: ImageItem, why: str) -> None:
        if not skip_failures:
            raise PredictionError(f"{item.path} (image id {item.image_id})", why)
        result.failures.append((item, why))

    def keep(item: ImageItem, pred: Prediction) -> None:
        if score_threshold is not None and pred.instances is not None:
            inst = pred.instances
            pred = pred.model_copy(update={"instances": inst[inst.scores >= score_threshold]})
        result.items.append(item)
        result.predictions.append(pred)

    warm = getattr(predictor, "warmup", None)
    if callable(warm):
        warm()
    batches = [list(items[start:start + bs]) for start in range(0, len(items), bs)]
    # the next batch's files are read and decoded on a second thread while the model runs on this one (image
    # decoders and inference engines release the GIL); at most two batches of images are in memory
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="annokit-load") as pool:
        pending = pool.submit(_load_batch, batches[0]) if batches else None
        for k, _batch in enumerate(batches):
            assert pending is not None
            read = pending.result()
            pending = pool.submit(_load_batch, batches[k + 1]) if k + 1 < len(batches) else None
            loaded: list[tuple[ImageItem, np.ndarray]] = []
            for it, im in read:
                if isinstance(im, PredictionError):
                    fail(it, im.reason)
                else:
                    loaded.append((it, im))
            if loaded:
                imgs = [im for _, im in loaded]
                try:
                    preds = predictor.predict(imgs)
                    _check_output(preds, imgs, task)
                except Exception as exc:  # a backend may raise anything: find the image
                    if len(loaded) == 1:
                        fail(loaded[0][0], _why(exc))
                    else:
                        for it, im in loaded:
                            try:
                                one = predictor.predict([im])
                                _check_output(one, [im], task)
                            except Exception as exc1:
                                fail(it, _why(exc1))
                                continue
                            keep(it, one[0])
                else:
                    for (it, _), p in zip(loaded, preds):
                        keep(it, p)
            if progress is not None:
                progress("predict", min(bs * (k + 1), len(items)), len(items))
    return result


def _load_batch(batch: Sequence[ImageItem]) -> list[tuple[ImageItem, np.ndarray | PredictionError]]:
    """Read a batch's images; an unreadable one comes back as its error, in its place."""
    out: list[tuple[ImageItem, np.ndarray | PredictionError]] = []
    for it in batch:
        try:
            out.append((it, load_image(it.path)))
        except PredictionError as exc:
            out.append((it, exc))
    return out


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


def write_predictions(result: RunResult, out: PathLike) -> list[Path]:
    """Write a run in the form ``annokit eval`` reads; returns the files written.

    * detection / instance: a COCO results JSON (``bbox``, ``score``; ``segmentation`` as compressed RLE);
    * semantic: ``out`` is a folder; one label-map PNG per image (8-bit, or 16-bit for ids over 255), named as
      the image with a ``.png`` suffix;
    * classification: a CSV ``file,<label 1>,<label 2>,...`` of scores.
    """
    from annokit._internal.files import atomic_path, write_bytes_atomic

    out = Path(out)
    if result.task in (Task.DETECTION, Task.INSTANCE):
        from annokit.io.coco import write_results

        write_results(result.instances(), out)
        return [out]
    if result.task == Task.SEMANTIC:
        written = []
        for it, p in zip(result.items, result.predictions):
            dest = out / Path(it.file_name).with_suffix(".png")
            with atomic_path(dest) as tmp:
                tmp.write_bytes(_png(p.label_map))
            written.append(dest)
        return written
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["file", *result.labels.names])
    for it, p in zip(result.items, result.predictions):
        wr.writerow([it.file_name, *(f"{v:.6g}" for v in p.class_scores)])
    write_bytes_atomic(out, buf.getvalue().encode())
    return [out]
