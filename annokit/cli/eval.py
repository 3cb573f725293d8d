"""``annokit eval``: score predictions against ground truth, for every task."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal, cast

import click

from annokit.cli import _eval_protocols, _eval_tasks
from annokit.cli._common import (
    Console,
    from_option,
    json_option,
    overwrite_option,
    quiet_option,
    refuse_existing,
    scheduler_client,
    scheduler_option,
    write_json_output,
)
from annokit.cli._eval_tasks import TASKS, EvalInputs
from annokit.cli._slices import SLICES_HELP, slice_options

EPILOG = """\b
Examples:
  annokit eval --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --iou-type bbox
  annokit eval --gt sample_data/scenes/labels.csv --pred sample_data/scenes/pred_labels.csv --json -
  annokit eval --task semantic --gt sample_data/scenes/semantic --pred sample_data/scenes/pred_semantic \\
      --num-classes 4
  annokit eval --gt gt.json --pred segm_results.json --iou-type segm --json scores.json
  annokit eval --gt VOCdevkit/VOC2007 --from voc --pred results.json
  annokit eval --task semantic --gt gt_pngs/ --pred pred_pngs/ --num-classes 19 --preset cityscapes
  annokit eval --task panoptic --gt panoptic_val.json --pred panoptic_pred.json
  annokit eval --protocol openimages --gt gt.json --pred results.json --hierarchy hierarchy.json
  annokit eval --protocol dota --gt labelTxt/ --pred Task1/
  annokit eval --protocol voc07 --gt VOCdevkit/VOC2007 --pred results/VOC2007/Main/
  annokit eval --protocol lvis --gt lvis_v1_val.json --pred results.json --iou-type segm
  annokit eval --gt person_keypoints_val2017.json --pred keypoints.json --iou-type keypoints
  annokit eval --gt rotated_gt.json --pred rotated_results.json --iou-type rotated
  annokit eval --gt gt.json --pred results.json --slice-by weather --json scores.json
  annokit eval --gt gt.json --pred 'preds/part-*.json' --scheduler local:2
  annokit eval --gt gt.json --pred 'preds/part-*.json' --scheduler tcp://10.0.0.5:8786 --json scores.json

\b
Without --task the ground truth decides: a COCO panoptic JSON is scored as panoptic, a file,label CSV as
classification, any other dataset as detection (instance with --iou-type segm). --from names the ground truth's
format when it cannot be recognised; detection, instance and localization read any dataset format (predictions
are COCO results whose image and category ids are the dataset's as annokit reads it).
detection / instance: --pred may be a glob of results files (quote it), scored as their concatenation in sorted
name order; --scheduler runs on a dask cluster with the same numbers (docs/scale-out.md).
--json writes {"metrics": {...}, "per_class": {"<name>": {...}}}: fractions, null where undefined
(with --protocol, also "protocol": its name, and the reference's key names; --iou-type keypoints or rotated
runs --protocol coco; with slices, also "slices": {"<slice>": {"images": n, "metrics": {...}}}).
Slices (detection and instance): each slice's 12 COCO numbers, equal to an evaluation of its images alone.
""" + SLICES_HELP


_TASK_OF_FORMAT = {"coco-panoptic": "panoptic", "class-csv": "classification"}


def _pred_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """``--pred``: an existing path, or a glob pattern of results files (detection / instance)."""
    if value.exists():
        return value
    from annokit._internal.shards import expand_shards, is_pattern

    if not is_pattern(value):
        raise click.BadParameter(f"Path {str(value)!r} does not exist.")
    expand_shards(value)  # no match: one line naming the pattern
    return value


def _task(task: str | None, gt: Path, gt_format: str | None, iou_type: str | None) -> str:
    """``--task``, or the task the ground truth's format implies (an unrecognised one: detection)."""
    if task is not None:
        return task
    from annokit.errors import FormatError
    from annokit.io.detect import detect_format

    fmt = gt_format
    if fmt is None:
        try:
            fmt = detect_format(gt)
        except FormatError:  # left to the detection reader, whose message names the place
            fmt = None
    return _TASK_OF_FORMAT.get(fmt or "") or ("instance" if iou_type == "segm" else "detection")


def _check_distributed(task: str | None, pred: Path, scheduler: str | None) -> None:
    """A glob of results files and --scheduler go with detection / instance (COCO) only."""
    from annokit._internal.shards import is_pattern

    what = "--scheduler" if scheduler is not None else "a glob in --pred" if is_pattern(pred) else None
    if what is not None and task not in ("detection", "instance"):
        raise click.UsageError(f"{what} goes with --task detection / instance (COCO), not "
                               f"{'--protocol' if task is None else '--task ' + task}")


@click.command(name="eval", epilog=EPILOG)
@click.option("--task", type=click.Choice(TASKS), default=None,
              help="What to score (default: from the ground truth's format; see below).")
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: a dataset (COCO JSON, a VOC / YOLO / ... folder with --from), a file,label CSV "
                   "or a folder of label-map PNGs, by task.")
@from_option("--gt")
@click.option("--pred", "pred", required=True, type=click.Path(path_type=Path), callback=_pred_path,
              help="Predictions (COCO results JSON -- or a quoted glob of them --, CSV or a folder of PNGs, by task).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm", "keypoints", "rotated"]), default=None,
              help="detection/instance: box or mask IoU (default bbox; segm for --task instance), keypoint OKS "
                   "(COCO keypoints) or rotated-box IoU (COCO-style \"rbox\" fields); lvis: bbox or segm.")
@json_option("the metrics")
@overwrite_option("the --json file")
@click.option("--fixed", is_flag=True, default=False,
              help="detection: fix pycocotools' known defects instead of reproducing them (see docs/coco-eval.md).")
@_eval_protocols.coco_param_options
@click.option("--gt-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="panoptic: folder of ground-truth PNGs (default: beside --gt, named as its stem).")
@click.option("--pred-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="panoptic: folder of predicted PNGs (default: beside --pred, named as its stem).")
@click.option("--num-classes", type=click.IntRange(1), default=None, help="semantic: number of classes.")
@click.option("--ignore-index", type=int, default=255, show_default=True, help="semantic: label to ignore.")
@click.option("--reduce-zero-label", is_flag=True, default=False,
              help="semantic: label 0 becomes ignore and every other label moves down by one (mmseg).")
@click.option("--preset", type=click.Choice(["mmseg", "cityscapes"]), default=None, help="semantic: conventions.")
@click.option("--top-k", type=click.IntRange(1), default=5, show_default=True,
              help="classification: k of top-k accuracy.")
@click.option("--protocol", type=click.Choice(_eval_protocols.PROTOCOLS), default=None,
              help="A published protocol (docs/lvis.md, docs/openimages.md, docs/dota.md, docs/voc-ap.md; coco: "
                   "docs/coco-eval.md).")
@click.option("--hierarchy", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="openimages: the class hierarchy JSON.")
@click.option("--iou-mode", type=click.Choice(["continuous", "devkit"]), default=None,
              help="voc07/voc12: the devkit's +1 pixel on widths and heights (default for a COCO --gt: its boxes "
                   "hold the devkit's numbers) or continuous overlap (default for a VOC folder --gt, whose boxes "
                   "annokit reads as pixel edges: the devkit's AP on its own files).")
@click.option("--ap-method", type=click.Choice(["11point", "allpoint"]), default=None,
              help="dota: VOC07 11-point (default, the devkit's) or VOC12 all-point AP.")
@slice_options
@scheduler_option
@quiet_option
def eval_command(task: str | None, gt: Path, src_format: str | None, pred: Path,
                 iou_type: Literal["bbox", "segm", "keypoints", "rotated"] | None, json_out: Path | None,
                 overwrite: bool, fixed: bool,
                 iou_thrs: tuple[float, ...] | None, max_dets: tuple[int, ...] | None, area_rng: tuple[str, ...],
                 gt_dir: Path | None, pred_dir: Path | None, num_classes: int | None, ignore_index: int,
                 reduce_zero_label: bool, preset: Literal["mmseg", "cityscapes"] | None, top_k: int,
                 protocol: str | None, hierarchy: Path | None, iou_mode: Literal["devkit", "continuous"] | None,
                 kpt_sigmas: tuple[float, ...] | None, ap_method: Literal["11point", "allpoint"] | None,
                 slice_by: str | None, slices_file: Path | None, scheduler: str | None, quiet: bool) -> None:
    """Score predictions against ground truth and print a summary (and a per-class table)."""
    refuse_existing(overwrite, json_out)
    from annokit._internal.memory import reuse_freed_memory

    reuse_freed_memory()  # this process is the command's: large temporaries reuse freed memory (fewer page faults)
    if protocol is None and iou_type in ("keypoints", "rotated"):
        protocol = "coco"
    _eval_protocols.CocoParamOptions(iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng,
                                     kpt_sigmas=kpt_sigmas).check(protocol, iou_type or "bbox", coco_page=True)
    kind = _task(task, gt, src_format, iou_type) if protocol is None else None
    if slice_by is not None or slices_file is not None:
        if protocol is not None or kind not in ("detection", "instance"):
            raise click.UsageError("--slice-by / --slices: COCO detection and instance evaluation only")
        from annokit._internal.shards import is_pattern

        if scheduler is not None or is_pattern(str(pred)):
            raise click.UsageError("--slice-by / --slices: one results file, without --scheduler")
    _check_distributed(kind, pred, scheduler)
    if protocol is not None:
        out = _eval_protocols.run_protocol(protocol, _eval_protocols.ProtocolInputs(
            gt=gt, pred=pred, hierarchy=hierarchy, iou_mode=iou_mode or "auto",
            ap_method=ap_method or "11point", fixed=fixed, iou_type=iou_type, iou_thrs=iou_thrs, max_dets=max_dets,
            area_rng=area_rng, kpt_sigmas=kpt_sigmas, quiet=quiet))
        Console.of(quiet, json_out).echo(out.text)
        if json_out is not None:
            write_json_output(json_out, {"protocol": protocol, "metrics": out.metrics, "per_class": out.per_class})
        return
    box_or_mask = cast(Literal["bbox", "segm"] | None, iou_type)  # keypoints and rotated ran above
    inputs = EvalInputs(gt=gt, pred=pred, gt_format=src_format, quiet=quiet, iou_type=box_or_mask, fixed=fixed,
                        iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng, gt_dir=gt_dir, pred_dir=pred_dir,
                        num_classes=num_classes, ignore_index=ignore_index, reduce_zero_label=reduce_zero_label,
                        preset=preset, top_k=top_k, slice_by=slice_by, slices_file=slices_file)
    if str(kind) not in _eval_tasks.RUNNERS:  # the instance tasks' runners are registered; the others on use
        from annokit.cli import _eval_tasks_more  # noqa: F401  (registers the other tasks)

    with scheduler_client(scheduler, quiet=quiet) as client:
        result = _eval_tasks.RUNNERS[str(kind)](replace(inputs, scheduler=client))
    Console.of(quiet, json_out).echo(result.text)
    if json_out is not None:
        extra = {"slices": result.slices} if result.slices else {}
        write_json_output(json_out, {"metrics": result.metrics, "per_class": result.per_class, **extra})
