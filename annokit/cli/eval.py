"""``annokit eval``: score predictions against ground truth, for every task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from annokit._internal.files import write_json_atomic
from annokit.cli import _eval_protocols, _eval_tasks, _eval_tasks_more  # noqa: F401  (registers the other tasks)

TASKS = ["classification", "localization", "detection", "instance", "semantic", "panoptic"]

EPILOG = """\b
Examples:
  annokit eval --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --iou-type bbox
  annokit eval --gt gt.json --pred segm_results.json --iou-type segm --json scores.json
  annokit eval --task semantic --gt gt_pngs/ --pred pred_pngs/ --num-classes 19 --preset cityscapes
  annokit eval --task panoptic --gt panoptic_val.json --pred panoptic_pred.json
  annokit eval --task classification --gt labels.csv --pred scores.csv --top-k 5
  annokit eval --protocol openimages --gt gt.json --pred results.json --hierarchy hierarchy.json
  annokit eval --protocol dota --gt labelTxt/ --pred Task1/
  annokit eval --protocol voc07 --gt gt.json --pred results.json --iou-mode devkit

--json writes {"metrics": {...}, "per_class": {"<name>": {...}}}: fractions, null where undefined
(with --protocol, also "protocol": its name).
"""


@click.command(name="eval", epilog=EPILOG)
@click.option("--task", type=click.Choice(TASKS), default=None,
              help="What to score. Default: detection, or instance with --iou-type segm.")
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth (COCO JSON, CSV or a folder of PNGs, by task).")
@click.option("--pred", "pred", required=True, type=click.Path(exists=True, path_type=Path),
              help="Predictions (COCO results JSON, CSV or a folder of PNGs, by task).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm"]), default=None,
              help="detection/instance: box or mask IoU (default bbox; segm for --task instance).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metrics as JSON to this file.")
@click.option("--fixed", is_flag=True, default=False,
              help="detection: fix pycocotools' known defects instead of reproducing them (see docs/coco-eval.md).")
@click.option("--iou-thrs", default=None, help="detection: comma-separated IoU thresholds (default .50:.05:.95).")
@click.option("--max-dets", default=None, help="detection: comma-separated maxDets (default 1,10,100).")
@click.option("--area-rng", "area_rng", multiple=True,
              help="detection: named area range NAME=LO:HI (repeatable; replaces small/medium/large).")
@click.option("--gt-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="panoptic: folder of ground-truth PNGs (default: beside --gt, named as its stem).")
@click.option("--pred-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="panoptic: folder of predicted PNGs (default: beside --pred, named as its stem).")
@click.option("--num-classes", type=int, default=None, help="semantic: number of classes.")
@click.option("--ignore-index", type=int, default=255, show_default=True, help="semantic: label to ignore.")
@click.option("--reduce-zero-label", is_flag=True, default=False,
              help="semantic: label 0 becomes ignore and every other label moves down by one (mmseg).")
@click.option("--preset", type=click.Choice(["mmseg", "cityscapes"]), default=None, help="semantic: conventions.")
@click.option("--top-k", type=int, default=5, show_default=True, help="classification: k of top-k accuracy.")
@click.option("--protocol", type=click.Choice(_eval_protocols.PROTOCOLS), default=None,
              help="A published protocol other than COCO (docs/openimages.md, docs/dota.md, docs/voc-ap.md).")
@click.option("--hierarchy", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="openimages: the class hierarchy JSON.")
@click.option("--iou-mode", type=click.Choice(["devkit", "continuous"]), default=None,
              help="voc07/voc12: the devkit's +1 pixel overlap (default) or continuous.")
@click.option("--ap-method", type=click.Choice(["11point", "allpoint"]), default=None,
              help="dota: VOC07 11-point (default, the devkit's) or VOC12 all-point AP.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")
def eval_command(task: str | None, gt: Path, pred: Path, json_out: Path | None, quiet: bool, **opts: Any) -> None:
    """Score predictions against ground truth and print a summary (and a per-class table)."""
    protocol = opts.pop("protocol", None)
    if protocol is not None:
        result = _eval_protocols.run_protocol(protocol, gt=gt, pred=pred, quiet=quiet, **opts)
        if not quiet:
            click.echo(result.text)
        if json_out is not None:
            write_json_atomic(json_out, {"protocol": protocol, "metrics": result.metrics,
                                         "per_class": result.per_class})
        return
    if task is None:
        task = "instance" if opts.get("iou_type") == "segm" else "detection"
    runner = _eval_tasks.RUNNERS.get(task)
    if runner is None:
        raise click.UsageError(f"--task {task} is not available in this version")
    result = runner(gt=gt, pred=pred, quiet=quiet, **opts)
    if not quiet:
        click.echo(result.text)
    if json_out is not None:
        write_json_atomic(json_out, {"metrics": result.metrics, "per_class": result.per_class})
