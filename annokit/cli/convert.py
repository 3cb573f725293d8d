"""``annokit convert``, ``annokit formats``, ``annokit validate``, ``annokit stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from annokit._internal.limits import MAX_PIXELS
from annokit.cli._common import (
    Console,
    dataset_argument,
    format_names,
    from_option,
    json_option,
    one_format,
    overwrite_option,
    quiet_option,
    refuse_existing,
    resolve_format,
    scheduler_client,
    scheduler_option,
    write_json_output,
)

__all__ = ["COMMANDS", "convert_command", "formats_command", "validate_command", "stats_command"]

CONVERT_EPILOG = """\b
Examples:
  annokit convert sample_data/scenes/gt.json scenes_voc/ --to voc
  annokit convert --from coco --to voc instances_val2017.json voc_out/
  annokit convert VOCdevkit/VOC2007 yolo_out/ --to yolo --json loss.json
  annokit convert gt.json yolo_seg/ --to yolo-seg --images images/ --strict
  annokit convert gt.json renumbered.json --remap mapping.txt
  annokit convert gt.json yolo_out/ --to yolo --scheduler local:4

--from is recognised from SRC when omitted; --to from DST's suffix (.json: coco, .csv: class-csv) when omitted.
Every conversion prints its loss report: each kind of information the target cannot hold, with its count and the
first places. What annokit keeps in the target's annokit.json sidecar is listed as kept (reading the target with
annokit restores it); --no-sidecar writes none. --strict makes any loss an error (nothing is written).
COCO string image ids are always accepted (mapped to integers in sorted order and written back); the former
--fixed option, which once allowed them, is gone.
--scheduler writes the target by image shards on a dask cluster, with the same files and report (VOC, YOLO,
YOLO-seg, PNG, Cityscapes, class folders, COCO; docs/scale-out.md).
"""

_TARGET_BY_SUFFIX = {".json": "coco", ".csv": "class-csv"}


def _target_format(dst: Path, fmt: str | None) -> str:
    """``--to``, or the format DST's suffix names."""
    if fmt is not None:
        return fmt
    by_suffix = _TARGET_BY_SUFFIX.get(dst.suffix.lower())
    if by_suffix is None:
        raise click.UsageError(f"name the target format with --to (DST {dst} has no .json or .csv suffix)")
    return by_suffix


@click.command(name="convert", epilog=CONVERT_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@from_option("SRC")
@click.option("--to", "dst_format", type=click.Choice(format_names()), default=None, metavar="FORMAT",
              help="Target format (default: coco for a .json DST, class-csv for a .csv DST; `annokit formats`).")
@json_option("the loss report")
@click.option("--strict", is_flag=True, default=False, help="Any loss is an error; nothing is written.")
@click.option("--no-sidecar", is_flag=True, default=False,
              help="Neither read nor write the annokit.json sidecar (what the format cannot hold is lost).")
@overwrite_option("DST (once the new one is whole) and the --json file")
@click.option("--remap", "remap_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Category mapping: JSON {old: new} or lines 'old new' (ids or names; 'old -' drops).")
@click.option("--voc-zero-based/--voc-one-based", "voc_zero_based", default=None,
              help="VOC coordinates are zero-based (xmin = left edge) / the devkit's 1-based indices (default: "
                   "1-based unless the files show zero-based ones, which the report says; written: 1-based unless "
                   "--voc-zero-based).")
@click.option("--split", default=None, help="VOC image set / YOLO split for images that have none (default "
                                           "trainval / train).")
@click.option("--precision", type=int, default=None, help="YOLO: decimals (default: exact shortest text).")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of the source images (by file_name), copied (hard-linked) into the target layout.")
@click.option("--skip-missing-splits", is_flag=True, default=False,
              help="YOLO: a split data.yaml names that is not there is left out (a counted loss), not an error.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Largest declared image (height x width) a target may draw a canvas for (default 2^28).")
@click.option("--gt", "gt", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="coco-results: the ground truth that gives images and categories.")
@click.option("--oi-normalized", "oi_normalized", is_flag=True, default=False,
              help="openimages: images not at hand; keep the boxes normalised (each image 1 x 1, counted).")
@click.option("--oi-display-names", "oi_display_names", is_flag=True, default=False,
              help="openimages: name the categories by DisplayName instead of LabelName (the MID).")
@click.option("--createml-corner", "corner", is_flag=True, default=False,
              help="CreateML: x, y are the top-left corner (as datumaro reads them), not Apple's centre.")
@click.option("--labelme-labels", "labels", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="LabelMe: labels.txt giving category ids by line (labelme2coco's --labels).")
@click.option("--labelme-raster-boxes", "raster_boxes", is_flag=True, default=False,
              help="LabelMe: boxes and areas as labelme2coco draws them (PIL), not the geometry's exact extent.")
@scheduler_option
@quiet_option
def convert_command(src: Path, dst: Path, src_format: str | None, dst_format: str | None, json_out: Path | None,
                    strict: bool, no_sidecar: bool, overwrite: bool, remap_file: Path | None,
                    voc_zero_based: bool | None, split: str | None, precision: int | None, images: Path | None,
                    skip_missing_splits: bool, max_pixels: int | None, gt: Path | None, oi_normalized: bool,
                    oi_display_names: bool, corner: bool, labels: Path | None, raster_boxes: bool,
                    scheduler: str | None, quiet: bool) -> None:
    """Convert the dataset SRC into DST, counting every loss."""
    from annokit.convert import LossError, get_format, load_mapping, part_refusal

    src_format = resolve_format(src, src_format)
    dst_format = _target_format(dst, dst_format)
    why = part_refusal(get_format(dst_format)) if scheduler is not None else None
    if why is not None:
        raise click.UsageError(f"--scheduler: {why}")
    refuse_existing(overwrite, json_out)
    read_opts: dict[str, Any] = {"zero_based": voc_zero_based} if src_format == "voc" else {}
    if gt is not None:
        read_opts["gt"] = gt
    if skip_missing_splits:
        read_opts["skip_missing_splits"] = True
    if src_format == "openimages":
        read_opts.update(normalized=oi_normalized, display_names=oi_display_names)
    read_opts.update({"corner": corner, "labels": labels, "raster_boxes": raster_boxes})
    write_opts: dict[str, Any] = {"split": split, "precision": precision, "images": images, "corner": corner}
    if dst_format == "voc":
        write_opts["zero_based"] = bool(voc_zero_based)
    remap = load_mapping(remap_file) if remap_file is not None else None
    args: dict[str, Any] = {"src_format": src_format, "dst_format": dst_format, "strict": strict,
                            "sidecar": not no_sidecar, "overwrite": overwrite, "remap": remap,
                            "max_pixels": max_pixels if max_pixels is not None else MAX_PIXELS,
                            "read_options": get_format(src_format).pick("read", read_opts),
                            "write_options": get_format(dst_format).pick("write", write_opts)}
    try:
        report = _run_convert(src, dst, args, scheduler, quiet)
    except LossError as exc:
        if json_out is not None:  # the refused conversion's report, to see what it would lose
            write_json_output(json_out, exc.report.to_json_dict())
        raise
    if json_out is not None:
        write_json_output(json_out, report.to_json_dict())
    Console.of(quiet, json_out).echo(report.text())


def _run_convert(src: Path, dst: Path, args: dict[str, Any], scheduler: str | None, quiet: bool) -> Any:
    """In this process, or by image shards on the dask cluster of ``--scheduler`` (one progress bar)."""
    if scheduler is None:
        from annokit.convert import convert

        return convert(src, dst, **args)
    from annokit.cli._common import ProgressBar
    from annokit.distributed.convert import convert_sharded

    with scheduler_client(scheduler, quiet=quiet) as client, ProgressBar("annokit convert", None, quiet=quiet) as bar:
        return convert_sharded(src, dst, scheduler=client, progress=bar, **args)


@click.command(name="formats", epilog="Example:\n\n  annokit formats")
@quiet_option
def formats_command(quiet: bool) -> None:
    """List the formats annokit reads and writes."""
    from annokit.convert import formats

    out = Console.of(quiet)
    for spec in formats():
        rw = "/".join(x for x, ok in (("read", spec.reader), ("write", spec.writer)) if ok)
        kind = "folder" if spec.folder else "file"
        out.echo(f"{spec.name:<16} {rw:<11} {kind:<7} {spec.description}")


VALIDATE_EPILOG = """\b
Examples:
  annokit validate sample_data/scenes/gt.json
  annokit validate VOCdevkit/VOC2007 --from voc
  annokit validate voc VOCdevkit/VOC2007           # the same: the format may come before PATH
  annokit validate my_yolo_dataset/ --json problems.json

Exit status: 0 when there is no error (warnings allowed), 1 when there are errors."""


@click.command(name="validate", epilog=VALIDATE_EPILOG)
@dataset_argument
@from_option("PATH")
@json_option("the problems")
@click.option("--max", "max_shown", type=int, default=200, show_default=True, help="Print at most this many.")
@overwrite_option("the --json file")
@quiet_option
def validate_command(dataset: tuple[Path, str | None], src_format: str | None, json_out: Path | None,
                     max_shown: int, overwrite: bool, quiet: bool) -> None:
    """Check the dataset PATH against its format; print every problem with its place."""
    from annokit.convert import validate

    path, named = dataset
    refuse_existing(overwrite, json_out)
    probs = validate(path, resolve_format(path, one_format(named, src_format)))
    out = Console.of(quiet, json_out)
    for pr in probs[:max_shown]:
        out.echo(str(pr))
    if len(probs) > max_shown:
        out.echo(f"... and {len(probs) - max_shown} more")
    n_err = sum(1 for p in probs if p.level == "error")
    n_warn = len(probs) - n_err
    out.echo(f"{path}: {n_err} error{'' if n_err == 1 else 's'}, {n_warn} warning{'' if n_warn == 1 else 's'}")
    if json_out is not None:
        write_json_output(json_out, [p.__dict__ for p in probs])
    if n_err:
        raise SystemExit(1)


STATS_EPILOG = """\b
Examples:
  annokit stats sample_data/scenes/gt.json
  annokit stats VOCdevkit/VOC2007 --from voc --json stats.json
  annokit stats voc VOCdevkit/VOC2007 --json stats.json   # the format may come before PATH
  annokit stats sample_data/scenes/gt.json --json - -q"""


@click.command(name="stats", epilog=STATS_EPILOG)
@dataset_argument
@from_option("PATH")
@json_option("the statistics")
@overwrite_option("the --json file")
@quiet_option
def stats_command(dataset: tuple[Path, str | None], src_format: str | None, json_out: Path | None, overwrite: bool,
                  quiet: bool) -> None:
    """Print counts per class, the box size distribution and the images without labels."""
    from annokit.convert import read_dataset, stats

    path, named = dataset
    refuse_existing(overwrite, json_out)
    s = stats(read_dataset(path, resolve_format(path, one_format(named, src_format))))
    Console.of(quiet, json_out).echo(_stats_text(s))
    if json_out is not None:
        write_json_output(json_out, s)


def _stats_text(s: dict[str, Any]) -> str:
    """The human form of :func:`annokit.convert.stats`."""
    lines = [f"{s['images']} images, {s['objects']} objects ({s['crowd']} crowd), {s['categories']} categories; "
             f"{s['images_without_labels']} images without labels",
             f"{'class':<24} {'id':>6} {'objects':>9} {'images':>8} {'crowd':>6}"]
    for name, r in s["per_class"].items():
        lines.append(f"{name[:24]:<24} {r['id']:>6} {r['objects']:>9} {r['images']:>8} {r['crowd']:>6}")
    lines.append("box sizes: " + ", ".join(f"{k}: {v}" for k, v in s["box_sizes"].items()))
    for name, pc in s["box_percentiles"].items():
        lines.append(f"  {name:<9} " + "  ".join(f"{k} {v:.1f}" for k, v in pc.items()))
    if s["images_without_labels_first"]:
        lines.append("images without labels (first): " + ", ".join(s["images_without_labels_first"]))
    return "\n".join(lines)


COMMANDS: list[click.Command] = [convert_command, formats_command, validate_command, stats_command]
