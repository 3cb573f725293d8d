"""``annokit convert``, ``annokit formats``, ``annokit validate``, ``annokit stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["COMMANDS", "convert_command", "formats_command", "validate_command", "stats_command"]


def _format_names() -> list[str]:
    from annokit.convert import FORMATS

    return sorted(FORMATS)


CONVERT_EPILOG = """\b
Examples:
  annokit convert --from coco --to voc instances_val2017.json voc_out/
  annokit convert --from voc --to yolo VOCdevkit/VOC2007 yolo_out/ --report loss.json
  annokit convert --from coco --to yolo-seg gt.json yolo_seg/ --images images/ --strict
  annokit convert --from coco --to coco gt.json renumbered.json --remap mapping.txt

Every conversion prints its loss report: each kind of information the target cannot hold, with its count and the
first places. What annokit keeps in the target's annokit.json sidecar is listed as kept (reading the target with
annokit restores it); --no-sidecar writes none. --strict makes any loss an error (nothing is written).
"""


@click.command(name="convert", epilog=CONVERT_EPILOG)
@click.option("--from", "src_format", required=True, type=click.Choice(_format_names()), help="Source format.")
@click.option("--to", "dst_format", required=True, type=click.Choice(_format_names()), help="Target format.")
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the loss report as JSON to this file.")
@click.option("--strict", is_flag=True, default=False, help="Any loss is an error; nothing is written.")
@click.option("--no-sidecar", is_flag=True, default=False,
              help="Neither read nor write the annokit.json sidecar (what the format cannot hold is lost).")
@click.option("--overwrite", is_flag=True, default=False, help="Replace DST if it exists (once the new one is whole).")
@click.option("--remap", "remap_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Category mapping: JSON {old: new} or lines 'old new' (ids or names; 'old -' drops).")
@click.option("--voc-zero-based", is_flag=True, default=False,
              help="VOC coordinates are zero-based (xmin = left edge) instead of the devkit's 1-based.")
@click.option("--split", default=None, help="VOC image set / YOLO split for images that have none (default "
                                           "trainval / train).")
@click.option("--precision", type=int, default=None, help="YOLO: decimals (default: exact shortest text).")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of the source images (by file_name), copied (hard-linked) into the target layout.")
@click.option("--gt", "gt", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="coco-results: the ground truth that gives images and categories.")
@click.option("--fixed", is_flag=True, default=False, help="COCO: accept string image ids.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")
def convert_command(src_format: str, dst_format: str, src: Path, dst: Path, report_path: Path | None,
                    strict: bool, no_sidecar: bool, overwrite: bool, remap_file: Path | None, voc_zero_based: bool,
                    split: str | None, precision: int | None, images: Path | None, gt: Path | None, fixed: bool,
                    quiet: bool) -> None:
    """Convert the dataset SRC (format --from) into DST (format --to), counting every loss."""
    from annokit.convert import convert, get_format, load_mapping

    read_opts: dict[str, Any] = {"fixed": fixed}
    if src_format == "voc":
        read_opts["zero_based"] = voc_zero_based
    if gt is not None:
        read_opts["gt"] = gt
    write_opts: dict[str, Any] = {"split": split, "precision": precision, "images": images}
    if dst_format == "voc":
        write_opts["zero_based"] = voc_zero_based
    remap = load_mapping(remap_file) if remap_file is not None else None
    report = convert(src, dst, src_format=src_format, dst_format=dst_format, strict=strict,
                     sidecar=not no_sidecar, overwrite=overwrite, remap=remap, report_path=report_path,
                     read_options=get_format(src_format).pick("read", read_opts),
                     write_options=get_format(dst_format).pick("write", write_opts))
    if not quiet:
        click.echo(report.text())


@click.command(name="formats", epilog="Example:\n\n  annokit formats")
def formats_command() -> None:
    """List the formats annokit reads and writes."""
    from annokit.convert import formats

    for spec in formats():
        rw = ("read" if spec.reader else "") + ("/" if spec.reader and spec.writer else "") + \
             ("write" if spec.writer else "")
        kind = "folder" if spec.folder else "file"
        click.echo(f"{spec.name:<16} {rw:<11} {kind:<7} {spec.description}")


COMMANDS: list[click.Command] = [convert_command, formats_command]


@click.command(name="validate", epilog="""\b
Examples:
  annokit validate coco instances_val2017.json
  annokit validate voc VOCdevkit/VOC2007
  annokit validate yolo my_yolo_dataset/ --json problems.json

Exit status: 0 when there is no error (warnings allowed), 1 when there are errors.""")
@click.argument("fmt", metavar="FMT", type=click.Choice(_format_names()))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the problems as JSON.")
@click.option("--max", "max_shown", type=int, default=200, show_default=True, help="Print at most this many.")
def validate_command(fmt: str, path: Path, json_out: Path | None, max_shown: int) -> None:
    """Check the dataset PATH against format FMT; print every problem with its place."""
    from annokit._internal.files import write_json_atomic
    from annokit.convert import validate

    probs = validate(path, fmt)
    for pr in probs[:max_shown]:
        click.echo(str(pr))
    if len(probs) > max_shown:
        click.echo(f"... and {len(probs) - max_shown} more")
    n_err = sum(1 for p in probs if p.level == "error")
    click.echo(f"{path}: {n_err} errors, {len(probs) - n_err} warnings")
    if json_out is not None:
        write_json_atomic(json_out, [p.__dict__ for p in probs])
    if n_err:
        raise SystemExit(1)


@click.command(name="stats", epilog="""\b
Examples:
  annokit stats coco instances_val2017.json
  annokit stats voc VOCdevkit/VOC2007 --json stats.json""")
@click.argument("fmt", metavar="FMT", type=click.Choice(_format_names()))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the statistics as JSON.")
def stats_command(fmt: str, path: Path, json_out: Path | None) -> None:
    """Print counts per class, the box size distribution and the images without labels."""
    from annokit._internal.files import write_json_atomic
    from annokit.convert import read_dataset, stats

    s = stats(read_dataset(path, fmt))
    click.echo(f"{s['images']} images, {s['objects']} objects ({s['crowd']} crowd), {s['categories']} categories; "
               f"{s['images_without_labels']} images without labels")
    click.echo(f"{'class':<24} {'id':>6} {'objects':>9} {'images':>8} {'crowd':>6}")
    for name, r in s["per_class"].items():
        click.echo(f"{name[:24]:<24} {r['id']:>6} {r['objects']:>9} {r['images']:>8} {r['crowd']:>6}")
    click.echo("box sizes: " + ", ".join(f"{k}: {v}" for k, v in s["box_sizes"].items()))
    for name, pc in s["box_percentiles"].items():
        click.echo(f"  {name:<9} " + "  ".join(f"{k} {v:.1f}" for k, v in pc.items()))
    if s["images_without_labels_first"]:
        click.echo("images without labels (first): " + ", ".join(s["images_without_labels_first"]))
    if json_out is not None:
        write_json_atomic(json_out, s)


COMMANDS.extend([validate_command, stats_command])
