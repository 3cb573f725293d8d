"""``annokit explore``: one offline page to look through a detector's results."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from annokit.cli._common import Console, ProgressBar, quiet_option, read_instance_dataset, refuse_existing
from annokit.cli._slices import read_slice_options, slice_options
from annokit.cli.report import images_folder, page_options

EPILOG = """\b
Examples:
  annokit explore --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out explore/
  annokit explore --gt gt.json --pred pred.json --images val2017/ --slices night.json --out exp/ --overwrite
  annokit explore --gt gt.json --pred segm.json --iou-type segm --max-image-mb 200 --out exp/

Writes DIR/explore.html: self-contained (no network, no server), every image's ground truth and predictions
embedded with a small script that redoes TIDE's matching live for the score threshold and IoU chosen on the page.
Filter by class, by outcome (TP, Cls, Loc, Both, Dupe, Bkg, Miss) and by slice; sort worst first; click an image
for a large view. With --images each image is embedded as a JPEG thumbnail (their total capped by --max-image-mb);
without, boxes are drawn on blank canvases. Slices (a filter on the page): --slices FILE.json
({"name": [image ids], ...}) or --slice-by FIELD (one slice per value of an image record's field).
"""


@click.command(name="explore", epilog=EPILOG)
@page_options(images_help="Folder of the images, embedded as thumbnails (default: 'images' beside --gt when "
                          "present).")
@slice_options
@click.option("--max-image-mb", type=click.FloatRange(0, 4096), default=64.0, show_default=True,
              help="Cap on the embedded thumbnails, in MB (their size shrinks to fit; images past it are blank).")
@click.option("--title", default=None, help="Page title (default: the predictions' file name).")
@quiet_option
def explore_command(gt: Path, src_format: str | None, pred: Path, out: Path, overwrite: bool, images: Path | None,
                    iou_type: Literal["bbox", "segm"], slice_by: str | None, slices_file: Path | None,
                    max_image_mb: float, title: str | None,
                    quiet: bool) -> None:
    """Write an offline page to browse results: filters, live score and IoU thresholds, large view."""
    from annokit.report.explore import build_explorer
    from annokit.report.inputs import read_predictions

    refuse_existing(overwrite, out)
    with ProgressBar("annokit explore", None, quiet=quiet) as bar:
        ds = read_instance_dataset(gt, src_format)
        preds = read_predictions(pred, ds)
        named = read_slice_options(ds, slice_by, slices_file)
        path = build_explorer(ds, preds.dets, out, image_root=images_folder(images, gt), iou_type=iou_type,
                              slices=named, title=title or f"annokit explore: {pred.name}", max_image_mb=max_image_mb,
                              notes=[preds.note()] if preds.unevaluated else [], progress=bar, overwrite=overwrite)
    Console.of(quiet).echo(f"wrote {path}")
