"""``annokit explore``: one offline page to look through a detector's results."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from annokit.cli._common import (
    Console,
    ProgressBar,
    from_option,
    overwrite_option,
    quiet_option,
    read_instance_dataset,
    refuse_existing,
)

EPILOG = """\b
Examples:
  annokit explore --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out explore/
  annokit explore --gt gt.json --pred pred.json --images val2017/ --slices night.json --out exp/ --overwrite
  annokit explore --gt gt.json --pred segm.json --iou-type segm --max-image-mb 200 --out exp/

Writes DIR/explore.html: self-contained (no network, no server), every image's ground truth and predictions
embedded with a small script that redoes TIDE's matching live for the score threshold and IoU chosen on the page.
Filter by class, by outcome (TP, Cls, Loc, Both, Dupe, Bkg, Miss) and by slice; sort worst first; click an image
for a large view. With --images each image is embedded as a JPEG thumbnail (their total capped by --max-image-mb);
without, boxes are drawn on blank canvases. --slices FILE.json: {"name": [image ids], ...}.
"""


@click.command(name="explore", epilog=EPILOG)
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: a dataset (COCO instances JSON, or any format with --from).")
@from_option("--gt")
@click.option("--pred", "pred", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Predictions (COCO results JSON).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created; an existing one needs --overwrite).")
@overwrite_option("the --out folder (once the new one is whole)")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of the images, embedded as thumbnails (default: 'images' beside --gt when present).")
@click.option("--slices", "slices", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='JSON file {"name": [image ids]}: named subsets of the images, offered as a filter.')
@click.option("--iou-type", type=click.Choice(["bbox", "segm"]), default="bbox", show_default=True,
              help="Box (bbox) or mask (segm) IoU for matching.")
@click.option("--max-image-mb", type=click.FloatRange(0, 4096), default=64.0, show_default=True,
              help="Cap on the embedded thumbnails, in MB (their size shrinks to fit; images past it are blank).")
@click.option("--title", default=None, help="Page title (default: the predictions' file name).")
@quiet_option
def explore_command(gt: Path, src_format: str | None, pred: Path, out: Path, overwrite: bool, images: Path | None,
                    slices: Path | None, iou_type: Literal["bbox", "segm"], max_image_mb: float, title: str | None,
                    quiet: bool) -> None:
    """Write an offline page to browse results: filters, live score and IoU thresholds, large view."""
    from annokit.report.explore import build_explorer
    from annokit.report.inputs import read_predictions, read_slices

    refuse_existing(overwrite, out)
    with ProgressBar("annokit explore", None, quiet=quiet) as bar:
        ds = read_instance_dataset(gt, src_format)
        preds = read_predictions(pred, ds)
        named = read_slices(slices, ds) if slices is not None else None
        root = images or (gt.parent / "images" if (gt.parent / "images").is_dir() else None)
        path = build_explorer(ds, preds.dets, out, image_root=root, iou_type=iou_type, slices=named,
                              title=title or f"annokit explore: {pred.name}", max_image_mb=max_image_mb,
                              notes=[preds.note()] if preds.unevaluated else [], progress=bar, overwrite=overwrite)
    Console.of(quiet).echo(f"wrote {path}")
