"""``annokit diagnose``: rank suspected ground-truth errors with a model's predictions as evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from annokit.cli._common import (
    Console,
    ProgressBar,
    json_option,
    quiet_option,
    read_instance_dataset,
    refuse_existing,
    write_json_output,
)
from annokit.cli.report import images_folder, page_options

EPILOG = """\b
Examples:
  annokit diagnose --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out diagnose/
  annokit diagnose --gt gt.json --pred pred.json --images val2017/ --min-score 0.6 --top 200 --out diag/
  annokit diagnose --gt gt.json --pred pred.json --out diag/ --json - -q | jq '.issues[:5]'

Writes DIR/label_issues.json (every entry: kind, image, label and prediction ids, score, evidence) and
DIR/label_issues.html (self-contained: counts, the definitions and the --top entries drawn over their images).
Kinds: missing (a confident prediction far from every label), wrong_class (a label overlapped by a confident
prediction of another class), poor_location (a label its own best prediction overlaps too little), duplicate (two
labels of one class on one object). Use predictions of a good model made out of sample.
"""


@click.command(name="diagnose", epilog=EPILOG)
@page_options(gt_help="Ground truth to check: a dataset (COCO instances JSON, or any format with --from).",
              pred_help="A good model's predictions (COCO results JSON), ideally made out of sample.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Lowest score of a prediction used as evidence.")
@click.option("--top", type=click.IntRange(0, 5000), default=100, show_default=True,
              help="Entries drawn on the page (label_issues.json has all).")
@json_option("the ranked entries")
@quiet_option
def diagnose_command(gt: Path, src_format: str | None, pred: Path, out: Path, overwrite: bool, images: Path | None,
                     iou_type: Literal["bbox", "segm"], min_score: float, top: int, json_out: Path | None,
                     quiet: bool) -> None:
    """Rank suspected label errors: missing boxes, wrong classes, poorly placed boxes, duplicates."""
    from annokit.analysis.label_errors import label_issues
    from annokit.report.diagnose import write_diagnosis
    from annokit.report.inputs import read_predictions

    refuse_existing(overwrite, out, json_out)
    with ProgressBar("annokit diagnose", None, quiet=quiet):
        ds = read_instance_dataset(gt, src_format)
        preds = read_predictions(pred, ds)
        found = label_issues(ds, preds.dets, iou_type=iou_type, min_score=min_score)
        page = write_diagnosis(ds, preds.dets, found, out, image_root=images_folder(images, gt), top=top,
                               overwrite=overwrite, title=f"annokit diagnose: {gt.name}",
                               notes=[preds.note()] if preds.unevaluated else [])
    if json_out is not None:
        write_json_output(json_out, found.to_dict())
    lines = [f"{k}: {n}" for k, n in found.counts().items()]
    for n, e in enumerate(found.issues[:10], 1):
        lines.append(f"#{n} {e.kind} score {e.score:.3f} image {e.image_id} labels {list(e.gt_ids)} "
                     f"predictions {list(e.pred_ids)}")
    Console.of(quiet, json_out).echo("\n".join([*lines, f"wrote {page}"]))
