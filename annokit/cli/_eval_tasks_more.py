"""``annokit eval`` runners for classification, localization, semantic and panoptic (registered on import)."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from annokit.cli._eval_tasks import EvalOutput, register
from annokit.errors import AnnokitWarning, FormatError


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "  null"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):6d}"
    return f"{float(v):6.4f}"


def _table(rows: dict[str, dict[str, Any]], cols: list[str], first: str = "class") -> str:
    if not rows:
        return ""
    w = max(len(first), *(len(k) for k in rows))
    head = f"{first:<{w}}  " + "  ".join(f"{c:>9}" for c in cols)
    lines = [head, "-" * len(head)]
    for name, d in rows.items():
        lines.append(f"{name:<{w}}  " + "  ".join(f"{_fmt(d.get(c)):>9}" for c in cols))
    return "\n".join(lines)


def _summary(metrics: dict[str, Any], keys: list[str]) -> str:
    return "\n".join(f"{k:<18} {_fmt(metrics.get(k)).strip()}" for k in keys if k in metrics)


# ------------------------------------------------------------------------------------------ classification
_FILE_COLS = {"file", "filename", "file_name", "image", "path", "id"}
_LABEL_COLS = {"label", "class", "category", "prediction", "pred"}


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
    except UnicodeDecodeError as exc:
        raise FormatError(path, None, f"not a UTF-8 CSV file ({exc.reason})") from None
    except csv.Error as exc:
        raise FormatError(path, None, f"invalid CSV ({exc})") from None
    if not rows:
        raise FormatError(path, None, "empty CSV file")
    return [h.strip() for h in rows[0]], [[x.strip() for x in r] for r in rows[1:]]


def _has_header(head: list[str]) -> bool:
    return head[0].lower() in _FILE_COLS


def _read_label_csv(path: Path) -> dict[str, str]:
    head, rows = _read_csv(path)
    if not _has_header(head):
        rows = [head, *rows]
    out: dict[str, str] = {}
    for i, r in enumerate(rows):
        line = i + (2 if _has_header(head) else 1)
        if len(r) != 2:
            raise FormatError(path, f"line {line}", f"expected 2 columns (file,label), got {len(r)}")
        if r[0] in out:
            raise FormatError(path, f"line {line}", f"file {r[0]!r} appears twice")
        out[r[0]] = r[1]
    return out


def _class_order(names: set[str]) -> list[str]:
    try:
        return [str(x) for x in sorted(int(n) for n in names)] if all(n.lstrip("-").isdigit() for n in names) \
            else sorted(names)
    except ValueError:  # pragma: no cover - guarded by isdigit
        return sorted(names)


@register("classification")
def run_classification(*, gt: Path, pred: Path, quiet: bool, top_k: int = 5, **_: Any) -> EvalOutput:
    """``--gt`` CSV ``file,label``; ``--pred`` CSV ``file,label`` or ``file,<score per class>`` (header names
    the classes)."""
    from annokit.metrics.classification import classification_metrics

    truth = _read_label_csv(gt)
    head, rows = _read_csv(pred)
    scores = None
    if len(head) > 2 or (len(head) == 2 and _has_header(head) and head[1].lower() not in _LABEL_COLS):
        if not _has_header(head):
            raise FormatError(pred, "line 1", "a score CSV needs a header: file,<class name>,<class name>,...")
        classes = head[1:]
        if len(set(classes)) != len(classes):
            raise FormatError(pred, "line 1", "class names in the header repeat")
        by_file: dict[str, np.ndarray] = {}
        for i, r in enumerate(rows):
            if len(r) != len(head):
                raise FormatError(pred, f"line {i + 2}", f"expected {len(head)} columns, got {len(r)}")
            try:
                vals = np.array([float(x) for x in r[1:]])
            except ValueError:
                raise FormatError(pred, f"line {i + 2}", "scores must be numbers") from None
            if not np.all(np.isfinite(vals)):
                raise FormatError(pred, f"line {i + 2}", "scores must be finite")
            if r[0] in by_file:
                raise FormatError(pred, f"line {i + 2}", f"file {r[0]!r} appears twice")
            by_file[r[0]] = vals
        pred_map: dict[str, Any] = by_file
    else:
        pred_map = _read_label_csv(pred)
        classes = _class_order(set(truth.values()) | set(pred_map.values()))
    index = {c: i for i, c in enumerate(classes)}
    files = list(truth)
    missing = [f for f in files if f not in pred_map]
    if missing:
        raise FormatError(pred, None, f"no prediction for {len(missing)} file(s), first {missing[0]!r}")
    extra = len(set(pred_map) - set(truth))
    if extra:
        warnings.warn(f"{pred}: {extra} prediction(s) for files not in the ground truth are ignored", AnnokitWarning,
                      stacklevel=2)
    unknown = [truth[f] for f in files if truth[f] not in index]
    if unknown:
        raise FormatError(gt, None, f"label {unknown[0]!r} is not one of the prediction's classes {classes}")
    y = np.array([index[truth[f]] for f in files], dtype=np.int64)
    if isinstance(next(iter(pred_map.values()), None), np.ndarray):
        scores = np.stack([pred_map[f] for f in files]) if files else np.zeros((0, len(classes)))
        sums = scores.sum(axis=1)
        if scores.size and not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
            warnings.warn(f"{pred}: score rows do not sum to 1; log_loss and ece assume probabilities",
                          AnnokitWarning, stacklevel=2)
        res = classification_metrics(y, scores=scores, num_classes=len(classes), top_k=(top_k,))
    else:
        yp = np.array([index[pred_map[f]] for f in files], dtype=np.int64)
        res = classification_metrics(y, yp, num_classes=len(classes), top_k=(top_k,))
    metrics = res.metrics_dict()
    per_class = res.per_class_dict(classes)
    keys = ["accuracy", f"top{top_k}", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
            "weighted_f1", "kappa", "kappa_quadratic", "mcc", "log_loss", "ece", "n"]
    text = _summary(metrics, keys) + "\n\n" + _table(per_class, ["precision", "recall", "f1", "support"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)


# ------------------------------------------------------------------------------------------------ semantic
def _cityscapes_key(stem: str) -> str:
    return "_".join(stem.split("_")[:3])


@register("semantic")
def run_semantic(*, gt: Path, pred: Path, quiet: bool, num_classes: int | None = None, ignore_index: int = 255,
                 reduce_zero_label: bool = False, preset: str | None = None, **_: Any) -> EvalOutput:
    """``--gt DIR --pred DIR`` of label-map PNGs matched by file stem (Cityscapes: by ``city_seq_frame``)."""
    from annokit.io.labelmap import read_label_map
    from annokit.metrics.semantic import SemanticAccumulator

    for p, what in ((gt, "--gt"), (pred, "--pred")):
        if not p.is_dir():
            raise click.UsageError(f"{what} must be a folder of label-map PNGs for --task semantic")
    cityscapes = preset == "cityscapes"
    if cityscapes:
        try:
            acc = SemanticAccumulator.preset("cityscapes", num_classes=num_classes)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        gt_files = sorted(gt.rglob("*_labelIds.png")) or sorted(gt.rglob("*.png"))
        key = _cityscapes_key
    else:
        if num_classes is None:
            raise click.UsageError("--task semantic needs --num-classes (or --preset cityscapes)")
        try:
            acc = SemanticAccumulator(num_classes, ignore_index=ignore_index, reduce_zero_label=reduce_zero_label)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        gt_files = sorted(gt.rglob("*.png"))
        key = str
    if not gt_files:
        raise FormatError(gt, None, "no PNG files found")
    preds: dict[str, Path] = {}
    for f in sorted(pred.rglob("*.png")):
        k = key(f.stem)
        if k in preds:
            raise FormatError(f, None, f"a second prediction for {k!r} (first: {preds[k].name})")
        preds[k] = f
    used = 0
    n_inst = 0
    for gf in gt_files:
        pf = preds.get(key(gf.stem))
        if pf is None:
            raise FormatError(pred, None, f"no prediction PNG for ground truth {gf.name}")
        used += 1
        g = read_label_map(gf)
        p = read_label_map(pf)
        if g.shape != p.shape:
            raise FormatError(pf, None, f"size {p.shape[1]}x{p.shape[0]} differs from the ground truth's "
                                        f"{g.shape[1]}x{g.shape[0]} ({gf.name})")
        inst = None
        if cityscapes:
            inf = gf.with_name(gf.name.replace("labelIds", "instanceIds"))
            if inf != gf and inf.exists():
                inst = read_label_map(inf)
                n_inst += 1
        try:
            acc.update(g, p, gt_instances=inst)
        except ValueError as exc:
            raise FormatError(gf, None, str(exc)) from None
    if used < len(preds):
        warnings.warn(f"{pred}: {len(preds) - used} prediction PNG(s) without ground truth are ignored",
                      AnnokitWarning, stacklevel=2)
    res = acc.compute()
    metrics = res.metrics_dict()
    if cityscapes and n_inst == 0:
        metrics["iIoU"] = None
        warnings.warn(f"{gt}: no *_instanceIds.png beside the label maps; iIoU is null", AnnokitWarning,
                      stacklevel=2)
    metrics["n_images"] = used
    per_class = res.per_class_dict()
    keys = ["aAcc", "mIoU", "mAcc", "mDice", "mFscore", "fwIoU", "iIoU", "n_images"]
    cols = ["IoU", "Acc", "Dice", "Precision", "Recall", "Fscore"] + (["iIoU"] if res.iiou is not None else [])
    text = _summary(metrics, keys)
    if res.excluded:
        text += "\nexcluded (absent from ground truth and prediction): " + ", ".join(metrics["excluded"])
    return EvalOutput(text=text + "\n\n" + _table(per_class, cols), metrics=metrics, per_class=per_class)


# ------------------------------------------------------------------------------------------------ panoptic
@register("panoptic")
def run_panoptic(*, gt: Path, pred: Path, quiet: bool, gt_dir: Path | None = None, pred_dir: Path | None = None,
                 **_: Any) -> EvalOutput:
    """``--gt GT.json --pred PRED.json`` with PNG folders beside them (named as the JSON stem) or given."""
    from annokit.api import evaluate_panoptic_files

    res = evaluate_panoptic_files(gt, pred, gt_dir, pred_dir)
    metrics = res.metrics_dict()
    per_class = res.per_class_dict()
    lines = [f"{'':10}|    PQ     SQ     RQ     N", "-" * 38]
    for name, part in (("All", res.all), ("Things", res.things), ("Stuff", res.stuff)):
        lines.append(f"{name:10}| {_fmt(part['pq'])} {_fmt(part['sq'])} {_fmt(part['rq'])} {part['n']:5d}")
    text = "\n".join(lines) + "\n\n" + _table(per_class, ["PQ", "SQ", "RQ", "tp", "fp", "fn"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)


# -------------------------------------------------------------------------------------------- localization
@register("localization")
def run_localization(*, gt: Path, pred: Path, quiet: bool, **_: Any) -> EvalOutput:
    """``--gt`` COCO instances JSON, ``--pred`` COCO results JSON (boxes with scores)."""
    from annokit.io.coco import read_instances, read_results
    from annokit.metrics.localization import LocalizationAccumulator

    ds = read_instances(gt)
    dets = read_results(pred, ds)
    names = {int(i): n for i, n in zip(ds.categories.ids.tolist(), ds.categories.names)}
    acc = LocalizationAccumulator()
    ann = ds.annotations
    keep = ~np.asarray(ann.iscrowd, bool) if ann.iscrowd is not None else np.ones(len(ann), bool)
    ann = ann[keep]
    for image_id in ds.images.ids.tolist():
        g = ann.for_image(image_id)
        d = dets.for_image(image_id)
        acc.update(g.boxes, g.labels, d.boxes, d.labels, d.scores if d.scores is not None else np.zeros(len(d)))
    res = acc.compute()
    metrics = res.metrics_dict()
    per_class = res.per_class_dict(names)
    keys = ["mean_iou", "corloc", "corloc_images", "acc@0.3", "acc@0.5", "acc@0.7", "top1_loc@0.5", "n_images",
            "n_objects"]
    text = _summary(metrics, keys) + "\n\n" + _table(per_class, ["corloc", "mean_iou", "pairs", "objects"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)
