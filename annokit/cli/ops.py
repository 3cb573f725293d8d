"""``annokit filter | merge | split | sample | remap | dedupe``: dataset operations, any format in, any format out,
every dropped or changed item counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from annokit.cli._common import (
    Console,
    ProgressBar,
    format_names,
    from_option,
    json_option,
    overwrite_option,
    quiet_option,
    refuse_existing,
    resolve_format,
    write_json_output,
)

__all__ = ["COMMANDS"]


# ---------------------------------------------------------------------------------------------- shared pieces
@dataclass(frozen=True)
class _Io:
    """The options every command shares (the project's CLI conventions, annokit/cli/_common.py)."""

    src_format: str | None
    dst_format: str | None
    overwrite: bool
    quiet: bool
    json_out: Path | None

    @property
    def console(self) -> Console:
        return Console.of(self.quiet, self.json_out)


def _io_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--from / --to / --json / --overwrite / -q, gathered into one ``io`` argument of ``fn``."""

    def wrapped(src_format: str | None, dst_format: str | None, overwrite: bool, json_out: Path | None,
                quiet: bool, **kw: Any) -> Any:
        return fn(io=_Io(src_format, dst_format, overwrite, quiet, json_out), **kw)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    for option in (quiet_option, overwrite_option("DST (once the new one is whole) and the --json file"),
                   json_option("the report"),
                   click.option("--to", "dst_format", type=click.Choice(format_names()), default=None,
                                metavar="FORMAT", help="Format of DST (default: the source's; `annokit formats`)."),
                   from_option("the source")):
        wrapped = option(wrapped)
    return wrapped


def _read(path: Path, fmt: str | None) -> tuple[Any, str]:
    from annokit.convert import read_dataset

    fmt = resolve_format(path, fmt)
    return read_dataset(path, fmt), fmt


def _check_dst(dst: Path | None, io: _Io) -> None:
    """Refuse an existing DST or --json file before any work."""
    refuse_existing(io.overwrite, dst, io.json_out)


def _counts(ds: Any) -> dict[str, int]:
    return {"images": len(ds.images), "objects": len(ds.annotations), "categories": len(ds.categories)}


@dataclass(frozen=True)
class _Outcome:
    """What a command did, for the text and JSON reports."""

    command: str
    sources: list[str]
    destination: str | None
    before: dict[str, int]
    after: dict[str, int]
    changes: Any  # LossReport of the operation
    written: Any = None  # LossReport of the write (None: nothing written)
    extra: dict[str, Any] | None = None


def _emit(out: _Outcome, io: _Io) -> None:
    """The report: text (unless quiet; on stderr with ``--json -``), and JSON where ``--json`` says."""
    if io.json_out is not None:
        write_json_output(io.json_out, {
            "command": out.command, "sources": out.sources, "destination": out.destination, "before": out.before,
            "after": out.after, "changes": out.changes.to_json_dict()["entries"], "warnings": out.changes.warnings,
            "written": out.written.to_json_dict() if out.written else None, **(out.extra or {})})
    io.console.echo("\n".join(_text(out)))


def _text(out: _Outcome) -> list[str]:
    b, a = out.before, out.after
    where = f" -> {out.destination}" if out.destination else " (nothing written)"
    lines = [f"{out.command} {', '.join(out.sources)}{where}: " + ", ".join(
        f"{b[k]} -> {a[k]} {k}" if b[k] != a[k] else f"{a[k]} {k}" for k in ("images", "objects", "categories"))]
    for e in out.changes.entries:
        ex = f" (e.g. {'; '.join(e.examples)})" if e.examples else ""
        lines.append(f"  {e.count:>8}  {e.kind}{ex}")
    lines += [f"  warning: {w}" for w in out.changes.warnings]
    if out.written is not None and (out.written.entries or out.written.warnings):
        lines += ["  writing: " + line.strip() for line in out.written.text().splitlines()[1:]]
    return lines


def _write(ds: Any, dst: Path, fmt: str, io: _Io) -> Any:
    from annokit.convert import write_dataset

    return write_dataset(ds, dst, fmt, overwrite=io.overwrite)


def _one_to_one(command: str, src: Path, dst: Path, io: _Io, op: Callable[[Any, Any], Any]) -> None:
    """Read SRC, apply ``op(dataset, recorder)``, write DST in --to (default: the source's format), report."""
    from annokit.core.losses import LossRecorder

    _check_dst(dst, io)
    ds, fmt = _read(src, io.src_format)
    rec = LossRecorder(fmt, command)
    out = op(ds, rec)
    written = _write(out, dst, io.dst_format or fmt, io)
    _emit(_Outcome(command, [str(src)], str(dst), _counts(ds), _counts(out), rec.report(), written), io)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


# ---------------------------------------------------------------------------------------------- filter
FILTER_EPILOG = """\b
Examples:
  annokit filter sample_data/scenes/gt.json circles.json --classes circle --drop-empty-images
  annokit filter sample_data/scenes/gt.json big.json --exclude-classes triangle --min-area 400
  annokit filter gt.json some.json --images ids.txt --to voc

--images names a text file of image ids or file names, one a line. An object failing several conditions is counted
once, under the first: its image is not kept, its class is not kept, its area is below --min-area, above
--max-area. Areas are the objects' stated areas (COCO 'area'; the box area where a format has none).
"""


@click.command(name="filter", epilog=FILTER_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--classes", default=None, help="Keep only these classes (comma-separated names).")
@click.option("--exclude-classes", default=None, help="Drop these classes (comma-separated names).")
@click.option("--min-area", type=float, default=None, help="Keep objects of at least this area (pixels).")
@click.option("--max-area", type=float, default=None, help="Keep objects of at most this area (pixels).")
@click.option("--images", "image_list", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Keep only the images this file lists (ids or file names, one a line).")
@click.option("--drop-empty-images", is_flag=True, default=False, help="Drop the images left without objects.")
@_io_options
def filter_command(io: _Io, src: Path, dst: Path, classes: str | None, exclude_classes: str | None,
                   min_area: float | None, max_area: float | None, image_list: Path | None,
                   drop_empty_images: bool) -> None:
    """Keep the objects and images of SRC that match; write them to DST, counting what went, by reason."""
    from annokit.ops import filter_dataset, read_image_list

    def op(ds: Any, rec: Any) -> Any:
        ids = read_image_list(image_list, ds) if image_list is not None else None
        return filter_dataset(ds, classes=_names(classes), exclude_classes=_names(exclude_classes),
                              min_area=min_area, max_area=max_area, image_ids=ids,
                              drop_empty_images=drop_empty_images, recorder=rec)

    _one_to_one("filter", src, dst, io, op)


# ---------------------------------------------------------------------------------------------- merge
MERGE_EPILOG = """\b
Examples:
  annokit filter sample_data/scenes/gt.json circles.json --classes circle
  annokit filter sample_data/scenes/gt.json others.json --exclude-classes circle
  annokit merge circles.json others.json merged.json
  annokit merge a.json voc_dir/ merged/ --to yolo --on-conflict rename

Image and annotation ids are kept unless an earlier source has them (then they get new ones); categories are
unified by name (--by-id: by id); the same image in two sources (same file name and size; --by-content: same
pixels) becomes one image holding the objects of both (an object equal to one already there is dropped). The ids
that changed are written into the result's top-level 'annokit_merge' field (a COCO key; annokit.json for folder
formats). A category id naming two categories, or a file name naming two different images, is an error unless
--on-conflict says otherwise.
"""


@click.command(name="merge", epilog=MERGE_EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="SRC1 SRC2 ... DST")
@click.option("--on-conflict", type=click.Choice(["error", "rename", "keep-first"]), default="error",
              show_default=True, help="A category id or file name meaning two things: stop, give the later one a "
                                      "new id / keep both images, or keep the earlier source's.")
@click.option("--by-id", is_flag=True, default=False, help="Unify categories by id instead of by name.")
@click.option("--by-content", is_flag=True, default=False,
              help="The same image is the same pixels (reads every image), not the same file name and size.")
@click.option("--image-dir", "image_dirs", multiple=True, type=click.Path(exists=True, file_okay=False,
                                                                         path_type=Path),
              help="With --by-content: each source's image folder, in order (default: beside each source).")
@_io_options
def merge_command(io: _Io, paths: tuple[Path, ...], on_conflict: str, by_id: bool, by_content: bool,
                  image_dirs: tuple[Path, ...]) -> None:
    """Merge the datasets SRC1 SRC2 ... into DST: ids remapped without collisions, categories unified, every
    change counted."""
    from annokit.core.losses import LossRecorder
    from annokit.ops import default_image_root, merge_datasets

    if len(paths) < 3:
        raise click.UsageError("give at least two sources and a destination")
    srcs, dst = list(paths[:-1]), paths[-1]
    _check_dst(dst, io)
    read = [_read(_existing(p), io.src_format) for p in srcs]
    roots = list(image_dirs) or [default_image_root(p) for p in srcs]
    rec = LossRecorder(read[0][1], "merge")
    with ProgressBar("merge", None, quiet=io.quiet) as bar:
        res = merge_datasets([d for d, _ in read], on_conflict=on_conflict,  # type: ignore[arg-type]
                             by_id=by_id, by_content=by_content, image_roots=roots if by_content else None,
                             names=[str(p) for p in srcs], recorder=rec, progress=bar)
    changed = any(len(s[k]) for s in res.mapping()["sources"] for k in ("images", "objects", "categories"))
    out = res.with_mapping() if changed else res.dataset
    written = _write(out, dst, io.dst_format or read[0][1], io)
    before = {k: sum(_counts(d)[k] for d, _ in read) for k in ("images", "objects", "categories")}
    _emit(_Outcome("merge", [str(p) for p in srcs], str(dst), before, _counts(out), res.report, written,
                   {"mapping": res.mapping()}), io)


def _existing(p: Path) -> Path:
    if not p.exists():
        raise click.BadParameter(f"{p} does not exist", param_hint="SRC")
    return p


# ---------------------------------------------------------------------------------------------- split
SPLIT_EPILOG = """\b
Examples:
  annokit split sample_data/scenes/gt.json splits/ --ratios train=0.8,val=0.2 --seed 0
  annokit split sample_data/scenes/gt.json splits/ --ratios train=0.7,val=0.2,test=0.1 --to yolo
  annokit split videos.json splits/ --ratios train=0.9,val=0.1 --group-by video_id

Writes one dataset per split into DST (NAME.json for file formats, NAME/ for folder formats) and DST/splits.json:
the parameters, each split's image ids, and per class its target and actual object counts. --stratify class
shares out each class's objects by the ratios (a class whose images hold no other class ends within one image of
its target); --group-by keeps the images with the same value of an image field (or 'dir', their folder) in one
split. The same --seed gives the same split on every run and machine.
"""


@click.command(name="split", epilog=SPLIT_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--ratios", required=True, help="NAME=FRACTION,... summing to 1, e.g. train=0.8,val=0.2.")
@click.option("--stratify", type=click.Choice(["class", "none"]), default="class", show_default=True,
              help="Share out each class's objects by the ratios, or only the images.")
@click.option("--group-by", default=None, help="Keep images with the same value of this image field in one split "
                                              "('dir': the folder of the file name).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@_io_options
def split_command(io: _Io, src: Path, dst: Path, ratios: str, stratify: str, group_by: str | None,
                  seed: int) -> None:
    """Split SRC into DST/NAME per ratio, reproducibly, stratified by class; write DST/splits.json."""
    from annokit.core.losses import LossRecorder
    from annokit.ops import parse_ratios, split_dataset, write_splits

    parsed = parse_ratios(ratios)
    _check_dst(dst, io)
    ds, fmt = _read(src, io.src_format)
    rec = LossRecorder(fmt, "split")
    with ProgressBar("split", None, quiet=io.quiet) as bar:
        res = split_dataset(ds, parsed, stratify=stratify,  # type: ignore[arg-type]
                            group_by=group_by, seed=seed, recorder=rec, progress=bar)
    written = write_splits(res, dst, io.dst_format or fmt, overwrite=io.overwrite)
    summary = res.summary()
    for name in summary["splits"]:
        del summary["splits"][name]["image_ids"]
    _emit(_Outcome("split", [str(src)], str(dst), _counts(ds), _counts(ds), rec.report(), written,
                   {"split": summary}), io)
    for name, d in res.datasets.items():
        io.console.echo(f"  {name}: {len(d)} images, {len(d.annotations)} objects")
    worst = max(summary["classes"], key=lambda c: c["max_deviation"], default=None)
    if worst is not None:
        io.console.echo(f"  largest class deviation: {worst['name']!r} {worst['max_deviation']:g} objects "
                        f"(most in one image: {worst['max_per_unit']})")


# ---------------------------------------------------------------------------------------------- sample
SAMPLE_EPILOG = """\b
Examples:
  annokit sample sample_data/scenes/gt.json some.json --n 10 --seed 0
  annokit sample sample_data/scenes/gt.json balanced.json --n 12 --by class-balanced
  annokit sample sample_data/scenes/gt.json to_label.json --n 10 --by uncertain --pred sample_data/scenes/pred.json

class-balanced adds, one at a time, an image of the class found in the fewest sampled images so far. uncertain
takes the images whose most uncertain detection (1 - |2 score - 1|) is highest: those to label next.
"""


@click.command(name="sample", epilog=SAMPLE_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--n", "n", type=int, required=True, help="How many images.")
@click.option("--by", type=click.Choice(["random", "class-balanced", "uncertain"]), default="random",
              show_default=True, help="How to choose them.")
@click.option("--pred", type=click.Path(exists=True, path_type=Path), default=None,
              help="With --by uncertain: predictions on SRC's images (COCO results, or any format with scores).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@_io_options
def sample_command(io: _Io, src: Path, dst: Path, n: int, by: str, pred: Path | None, seed: int) -> None:
    """Write N images of SRC (with their objects) to DST: at random, class-balanced, or the least certain."""
    from annokit.ops import sample_dataset

    if by == "uncertain" and pred is None:
        raise click.UsageError("--by uncertain needs --pred")
    predictions = _read(pred, None)[0] if pred is not None else None

    def op(ds: Any, rec: Any) -> Any:
        return sample_dataset(ds, n, by=by, predictions=predictions, seed=seed,  # type: ignore[arg-type]
                              recorder=rec)

    _one_to_one("sample", src, dst, io, op)


# ---------------------------------------------------------------------------------------------- remap
REMAP_EPILOG = """\b
Examples:
  annokit remap sample_data/scenes/gt.json shapes.json --map square=polygon,triangle=polygon
  annokit remap sample_data/scenes/gt.json no_circles.json --map circle=-
  annokit remap gt.json renamed.json --map-file mapping.txt --renumber

OLD is a category name (or id); NEW a name, an id, or - to drop the category and its objects. Categories given
the same name become one (with the id of the one keeping its name, else the first's). A map file is JSON
{"old": "new"} or lines 'old new'. Ids do not change unless NEW is an id or --renumber numbers them 1..K.
"""


@click.command(name="remap", epilog=REMAP_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--map", "map_text", default=None, help="OLD=NEW,... (NEW a name, an id, or - to drop).")
@click.option("--map-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A mapping file: JSON {old: new} or lines 'old new' ('old -' drops).")
@click.option("--renumber", is_flag=True, default=False, help="Number the categories 1..K in their order.")
@_io_options
def remap_command(io: _Io, src: Path, dst: Path, map_text: str | None, map_file: Path | None,
                  renumber: bool) -> None:
    """Rename, merge or drop the categories of SRC; write DST, counting every change."""
    from annokit.convert import load_mapping
    from annokit.ops import parse_map, remap_dataset

    if (map_text is None) == (map_file is None):
        raise click.UsageError("give --map or --map-file (one of them)")
    mapping = parse_map(map_text) if map_text is not None else load_mapping(map_file)  # type: ignore[arg-type]
    _one_to_one("remap", src, dst, io, lambda ds, rec: remap_dataset(ds, mapping, renumber=renumber,
                                                                     recorder=rec))


# ---------------------------------------------------------------------------------------------- dedupe
DEDUPE_EPILOG = """\b
Examples:
  annokit dedupe sample_data/scenes/gt.json
  annokit dedupe sample_data/scenes/gt.json clean.json --apply --iou 0.9

Duplicate objects: same image, class and crowd flag, box IoU at least --iou (the first one is kept; predictions:
the highest score). Duplicate images: the same decoded pixels (the first is kept, the others go with their
objects); compared when the image files are found (--image-dir, else beside SRC). Without --apply nothing is
written: the duplicates are only reported (--json - lists each one).
"""


@click.command(name="dedupe", epilog=DEDUPE_EPILOG)
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path), required=False)
@click.option("--iou", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True,
              help="Boxes of one class overlapping at least this much are duplicates.")
@click.option("--image-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of SRC's images, to find duplicate images (default: beside SRC, when there).")
@click.option("--apply", is_flag=True, default=False, help="Write DST without the duplicates.")
@_io_options
def dedupe_command(io: _Io, src: Path, dst: Path | None, iou: float, image_dir: Path | None, apply: bool) -> None:
    """Find duplicate objects and images in SRC; with --apply, write DST without them."""
    from annokit.core.losses import LossRecorder
    from annokit.ops import dedupe_dataset

    if apply and dst is None:
        raise click.UsageError("--apply needs DST")
    if dst is not None and not apply:
        raise click.UsageError("DST is written only with --apply")
    if dst is not None:
        _check_dst(dst, io)
    ds, fmt = _read(src, io.src_format)
    root = image_dir or _found_images(src, ds)
    rec = LossRecorder(fmt, "dedupe")
    with ProgressBar("dedupe", None, quiet=io.quiet) as bar:
        res = dedupe_dataset(ds, iou=iou, image_root=root, recorder=rec, progress=bar)
    written = _write(res.dataset, dst, io.dst_format or fmt, io) if apply and dst is not None else None
    after = _counts(res.dataset) if written is not None else _counts(ds)
    _emit(_Outcome("dedupe", [str(src)], str(dst) if written is not None else None, _counts(ds), after, res.report,
                   written, {"duplicates": res.findings()}), io)


def _found_images(src: Path, ds: Any) -> Path | None:
    """The default image folder of SRC when it holds SRC's first image, else None."""
    from annokit.ops import default_image_root

    root = default_image_root(src)
    return root if len(ds.images) and (root / ds.images.file_names[0]).is_file() else None


COMMANDS: list[click.Command] = [filter_command, merge_command, split_command, sample_command, remap_command,
                                 dedupe_command]
