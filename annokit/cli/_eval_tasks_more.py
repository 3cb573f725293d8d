"""``annokit eval`` runners for classification, semantic and panoptic (registered on import)."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from annokit.cli._common import ProgressBar
from annokit.cli._eval_tasks import EvalInputs, EvalOutput, register
from annokit.cli._format import fmt_value, summary, table
from annokit.errors import AnnokitWarning, FormatError

if TYPE_CHECKING:
    from annokit.metrics.semantic import SemanticAccumulator


def _only_format(inp: EvalInputs, task: str, fmt: str | None) -> None:
    """``--from`` with a task whose ground truth has one layout: it may only name that layout."""
    if inp.gt_format is not None and inp.gt_format != fmt:
        what = f"is read as {fmt}" if fmt else "is a folder of label-map PNGs"
        raise click.UsageError(f"--from {inp.gt_format} does not apply to --task {task}: its ground truth {what}")


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
    """``{file: label}`` of a ``file,label`` CSV (header optional)."""
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


def _read_score_csv(path: Path, head: list[str], rows: list[list[str]]) -> dict[str, np.ndarray]:
    """``{file: (C,) scores}`` of a ``file,<class>,<class>,...`` CSV whose header names the classes."""
    if not _has_header(head):
        raise FormatError(path, "line 1", "a score CSV needs a header: file,<class name>,<class name>,...")
    if len(set(head[1:])) != len(head) - 1:
        raise FormatError(path, "line 1", "class names in the header repeat")
    by_file: dict[str, np.ndarray] = {}
    for i, r in enumerate(rows):
        if len(r) != len(head):
            raise FormatError(path, f"line {i + 2}", f"expected {len(head)} columns, got {len(r)}")
        try:
            vals = np.array([float(x) for x in r[1:]])
        except ValueError:
            raise FormatError(path, f"line {i + 2}", "scores must be numbers") from None
        if not np.all(np.isfinite(vals)):
            raise FormatError(path, f"line {i + 2}", "scores must be finite")
        if r[0] in by_file:
            raise FormatError(path, f"line {i + 2}", f"file {r[0]!r} appears twice")
        by_file[r[0]] = vals
    return by_file


def _class_order(names: set[str]) -> list[str]:
    if all(n.lstrip("-").isdigit() for n in names):
        return [str(x) for x in sorted(int(n) for n in names)]
    return sorted(names)


@dataclass(frozen=True)
class _Predictions:
    """The classes (in column order) and, per file, a predicted label or a row of scores."""

    classes: list[str]
    labels: dict[str, str] | None
    scores: dict[str, np.ndarray] | None

    def files(self) -> set[str]:
        return set(self.labels if self.labels is not None else self.scores or {})


def _read_predictions(pred: Path, truth: dict[str, str]) -> _Predictions:
    """A score CSV (more than two columns, or a header that names a class) or a label CSV."""
    head, rows = _read_csv(pred)
    if len(head) > 2 or (len(head) == 2 and _has_header(head) and head[1].lower() not in _LABEL_COLS):
        return _Predictions(head[1:], None, _read_score_csv(pred, head, rows))
    labels = _read_label_csv(pred)
    return _Predictions(_class_order(set(truth.values()) | set(labels.values())), labels, None)


@register("classification")
def run_classification(inp: EvalInputs) -> EvalOutput:
    """``--gt`` CSV ``file,label``; ``--pred`` CSV ``file,label`` or ``file,<score per class>`` (header names
    the classes)."""
    from annokit.metrics.classification import classification_metrics

    _only_format(inp, "classification", "class-csv")
    truth = _read_label_csv(inp.gt)
    pr = _read_predictions(inp.pred, truth)
    index = {c: i for i, c in enumerate(pr.classes)}
    files = list(truth)
    missing = [f for f in files if f not in pr.files()]
    if missing:
        raise FormatError(inp.pred, None, f"no prediction for {len(missing)} file(s), first {missing[0]!r}")
    extra = len(pr.files() - set(truth))
    if extra:
        warnings.warn(f"{inp.pred}: {extra} prediction(s) for files not in the ground truth are ignored",
                      AnnokitWarning, stacklevel=2)
    unknown = [truth[f] for f in files if truth[f] not in index]
    if unknown:
        raise FormatError(inp.gt, None, f"label {unknown[0]!r} is not one of the prediction's classes {pr.classes}")
    y = np.array([index[truth[f]] for f in files], dtype=np.int64)
    if pr.scores is not None:
        scores = np.stack([pr.scores[f] for f in files]) if files else np.zeros((0, len(pr.classes)))
        if scores.size and not np.allclose(scores.sum(axis=1), 1.0, rtol=0, atol=1e-6):
            warnings.warn(f"{inp.pred}: score rows do not sum to 1; log_loss and ece assume probabilities",
                          AnnokitWarning, stacklevel=2)
        res = classification_metrics(y, scores=scores, num_classes=len(pr.classes), top_k=(inp.top_k,))
    else:
        labels = pr.labels or {}
        yp = np.array([index[labels[f]] for f in files], dtype=np.int64)
        res = classification_metrics(y, yp, num_classes=len(pr.classes), top_k=(inp.top_k,))
    metrics = res.metrics_dict()
    per_class = res.per_class_dict(pr.classes)
    keys = ["accuracy", f"top{inp.top_k}", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
            "weighted_f1", "kappa", "kappa_quadratic", "mcc", "log_loss", "ece", "n"]
    text = summary(metrics, keys) + "\n\n" + table(per_class, ["precision", "recall", "f1", "support"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)


# ------------------------------------------------------------------------------------------------ semantic
def _cityscapes_key(stem: str) -> str:
    return "_".join(stem.split("_")[:3])


def _same_stem(stem: str) -> str:
    return stem


@dataclass(frozen=True)
class _SemanticSetup:
    """The accumulator, the ground-truth files and how a file stem names its image (Cityscapes:
    ``city_seq_frame``)."""

    acc: SemanticAccumulator
    gt_files: list[Path]
    key: Callable[[str], str]
    cityscapes: bool


def _semantic_setup(inp: EvalInputs) -> _SemanticSetup:
    """Check the folders and options; the accumulator of the preset or of ``--num-classes``."""
    from annokit.metrics.semantic import SemanticAccumulator

    for p, what in ((inp.gt, "--gt"), (inp.pred, "--pred")):
        if not p.is_dir():
            raise click.UsageError(f"{what} must be a folder of label-map PNGs for --task semantic")
    try:
        if inp.preset == "cityscapes":
            acc = SemanticAccumulator.preset("cityscapes", num_classes=inp.num_classes)
            gt_files = sorted(inp.gt.rglob("*_labelIds.png")) or sorted(inp.gt.rglob("*.png"))
            return _SemanticSetup(acc, gt_files, _cityscapes_key, True)
        if inp.num_classes is None:
            raise click.UsageError("--task semantic needs --num-classes (or --preset cityscapes)")
        acc = SemanticAccumulator(inp.num_classes, ignore_index=inp.ignore_index,
                                  reduce_zero_label=inp.reduce_zero_label)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return _SemanticSetup(acc, sorted(inp.gt.rglob("*.png")), _same_stem, False)


def _prediction_files(pred: Path, key: Callable[[str], str]) -> dict[str, Path]:
    """``{key: PNG}`` of the prediction folder (a second file for one key is an error)."""
    preds: dict[str, Path] = {}
    for f in sorted(pred.rglob("*.png")):
        k = key(f.stem)
        if k in preds:
            raise FormatError(f, None, f"a second prediction for {k!r} (first: {preds[k].name})")
        preds[k] = f
    return preds


@register("semantic")
def run_semantic(inp: EvalInputs) -> EvalOutput:
    """``--gt DIR --pred DIR`` of label-map PNGs matched by file stem (Cityscapes: by ``city_seq_frame``)."""
    from annokit.io.labelmap import read_label_map

    _only_format(inp, "semantic", None)
    st = _semantic_setup(inp)
    if not st.gt_files:
        raise FormatError(inp.gt, None, "no PNG files found")
    preds = _prediction_files(inp.pred, st.key)
    if not st.cityscapes:
        return _semantic_output(inp, _semantic_counted(inp, st, preds), 0)
    n_inst = 0
    with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
        for n, gf in enumerate(st.gt_files, 1):
            pf = preds.get(st.key(gf.stem))
            if pf is None:
                raise FormatError(inp.pred, None, f"no prediction PNG for ground truth {gf.name}")
            g, p = read_label_map(gf), read_label_map(pf)
            if g.shape != p.shape:
                raise FormatError(pf, None, f"size {p.shape[1]}x{p.shape[0]} differs from the ground truth's "
                                            f"{g.shape[1]}x{g.shape[0]} ({gf.name})")
            inf = gf.with_name(gf.name.replace("labelIds", "instanceIds"))
            inst = read_label_map(inf) if st.cityscapes and inf != gf and inf.exists() else None
            n_inst += inst is not None
            try:
                st.acc.update(g, p, gt_instances=inst)
            except ValueError as exc:
                raise FormatError(gf, None, str(exc)) from None
            bar("images", n, len(st.gt_files))
    _warn_unmatched(inp, st, preds)
    return _semantic_output(inp, st, n_inst)


def _warn_unmatched(inp: EvalInputs, st: _SemanticSetup, preds: dict[str, Path]) -> None:
    if len(st.gt_files) < len(preds):
        warnings.warn(f"{inp.pred}: {len(preds) - len(st.gt_files)} prediction PNG(s) without ground truth are "
                      "ignored", AnnokitWarning, stacklevel=3)


def _semantic_counted(inp: EvalInputs, st: _SemanticSetup, preds: dict[str, Path]) -> _SemanticSetup:
    """Label maps without instance maps: the pairs counted by :func:`annokit.api.accumulate_label_pairs` (forked
    workers on Linux); a ground truth without a prediction raises after the pairs before it, as one pass."""
    from annokit.api import accumulate_label_pairs

    pairs = []
    missing = None
    for gf in st.gt_files:
        pf = preds.get(st.key(gf.stem))
        if pf is None:
            missing = gf
            break
        pairs.append((gf, pf))
    with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
        acc = accumulate_label_pairs(st.acc, pairs)
        bar("images", len(pairs), len(st.gt_files))
    if missing is not None:
        raise FormatError(inp.pred, None, f"no prediction PNG for ground truth {missing.name}")
    _warn_unmatched(inp, st, preds)
    return _SemanticSetup(acc, st.gt_files, st.key, st.cityscapes)


def _semantic_output(inp: EvalInputs, st: _SemanticSetup, n_inst: int) -> EvalOutput:
    """The metrics, the per-class table and the text (iIoU null, with a warning, without instance maps)."""
    res = st.acc.compute()
    metrics = res.metrics_dict()
    if st.cityscapes and n_inst == 0:
        metrics["iIoU"] = None
        warnings.warn(f"{inp.gt}: no *_instanceIds.png beside the label maps; iIoU is null", AnnokitWarning,
                      stacklevel=3)
    metrics["n_images"] = len(st.gt_files)
    per_class = res.per_class_dict()
    keys = ["aAcc", "mIoU", "mAcc", "mDice", "mFscore", "fwIoU", "iIoU", "n_images"]
    cols = ["IoU", "Acc", "Dice", "Precision", "Recall", "Fscore"] + (["iIoU"] if res.iiou is not None else [])
    text = summary(metrics, keys)
    if res.excluded:
        text += "\nexcluded (absent from ground truth and prediction): " + ", ".join(metrics["excluded"])
    return EvalOutput(text=text + "\n\n" + table(per_class, cols), metrics=metrics, per_class=per_class)


# ------------------------------------------------------------------------------------------------ panoptic
@register("panoptic")
def run_panoptic(inp: EvalInputs) -> EvalOutput:
    """``--gt GT.json --pred PRED.json`` with PNG folders beside them (named as the JSON stem) or given."""
    from annokit.api import evaluate_panoptic_files

    _only_format(inp, "panoptic", "coco-panoptic")
    res = evaluate_panoptic_files(inp.gt, inp.pred, inp.gt_dir, inp.pred_dir)
    metrics = res.metrics_dict()
    per_class = res.per_class_dict()
    lines = [f"{'':10}|    PQ     SQ     RQ     N", "-" * 38]
    for name, part in (("All", res.all), ("Things", res.things), ("Stuff", res.stuff)):
        lines.append(f"{name:10}| {fmt_value(part['pq'])} {fmt_value(part['sq'])} {fmt_value(part['rq'])} "
                     f"{part['n']:5d}")
    text = "\n".join(lines) + "\n\n" + table(per_class, ["PQ", "SQ", "RQ", "tp", "fp", "fn"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)
