"""``annokit predict`` (run a model over images) and ``annokit predictors`` (list the backends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from annokit.cli._common import FORMAT_NAMES, ProgressBar, scheduler_client, scheduler_option

__all__ = ["COMMANDS", "predict_command", "predictors_command"]

PREDICT_EPILOG = """\b
Examples:
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task detection \\
      --dataset sample_data/scenes/gt.json --out pred.json
  annokit eval --gt sample_data/scenes/gt.json --pred pred.json --iou-type bbox
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task semantic \\
      --images sample_data/scenes/images --out pred_semantic/
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task classification \\
      --dataset sample_data/scenes/labels.csv --out scores.csv
  annokit predict --model yolov8n.onnx --option labels=coco.names --images imgs/ --out dets.json
  annokit predict --backend my_pkg.backend:MyPredictor --option weights=w.bin --images imgs/ --out p.json
  annokit predict --model model.onnx --images imgs/ --out dets.json --scheduler local:4

\b
Output: detection / instance -> COCO results JSON; semantic -> a folder of PNG label maps;
classification -> a CSV of scores (file,<label>,...). With --images, image ids are 1..N in sorted file order;
with --dataset they are the dataset's, so `annokit eval --gt GT.json` scores the output.
Images of more than 8 bits: 16-bit integer values are scaled by 255/65535, float images must lie in 0..1;
--image-range minmax or LO:HI says otherwise (see docs/predict.md).
--scheduler runs shards of images on a dask cluster (each worker loads the model once) and writes the same output;
OUT must be on a file system the workers see (docs/scale-out.md).
"""


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE", param_hint="--option")
    try:
        return key.replace("-", "_"), json.loads(value)
    except ValueError:
        return key.replace("-", "_"), value


def _format_choices() -> list[str]:
    return sorted([*FORMAT_NAMES, "images"])


def _items(images_dir: Path | None, dataset: str | None, fmt: str | None, image_root: Path | None) -> list[Any]:
    """The images to predict, from --images or --dataset [--from] [--image-root]."""
    from annokit.predict import images_from_dataset, images_from_dir

    if (images_dir is None) == (dataset is None):
        raise click.UsageError("give exactly one of --images DIR and --dataset PATH")
    if images_dir is not None:
        if fmt is not None or image_root is not None:
            raise click.UsageError("--from and --image-root go with --dataset, not --images")
        return images_from_dir(images_dir)
    assert dataset is not None
    return images_from_dataset(dataset, format=fmt, image_root=image_root)[0]


def _spec(backend: str, model: str | None, task: str | None, score_threshold: float | None,
          options: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The backend and its options, from --backend, --model, --task, --score-threshold and the --option pairs."""
    from annokit.predict.registry import load_backend, option_names

    opts = dict(_parse_option(o) for o in options)
    if model is not None:
        opts["model"] = model
    names = option_names(load_backend(backend))
    if task is not None and names is not None and "task" in names:
        opts["task"] = task
    if (score_threshold is not None and names is not None and "score_threshold" in names
            and task not in ("classification", "semantic")):
        opts.setdefault("score_threshold", score_threshold)
    return backend, opts


def _build(backend: str, opts: dict[str, Any], task: str | None) -> Any:
    """The predictor of :func:`_spec`'s backend and options (its task checked against --task)."""
    from annokit.predict.registry import load_predictor

    predictor = load_predictor(backend, **opts)
    has = str(getattr(predictor.task, "value", predictor.task))
    if task is not None and has != task:
        raise click.UsageError(f"backend {backend!r} predicts {has}, not {task} (it takes no task option)")
    return predictor


def _show_failures(failures: list[Any], total: int) -> None:
    click.echo(f"annokit: warning: {len(failures)} of {total} images failed and were skipped:", err=True)
    for it, why in failures[:20]:
        click.echo(f"  {it.path}: {why}", err=True)
    if len(failures) > 20:
        click.echo(f"  ... and {len(failures) - 20} more", err=True)


@click.command(name="predict", epilog=PREDICT_EPILOG)
@click.option("--backend", default="onnx", show_default=True,
              help="A backend name (see `annokit predictors`) or module:attr of an unregistered one.")
@click.option("--model", "model", default=None, help="The model file (onnx) or name (torchvision).")
@click.option("--task", type=click.Choice(["classification", "detection", "instance", "semantic"]), default=None,
              help="What to predict (default: the model's own default task).")
@click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of images (ids 1..N in sorted file order).")
@click.option("--dataset", default=None, metavar="PATH",
              help="A dataset whose images to predict, with its image ids: a COCO JSON, a classification CSV, a "
                   "VOC / YOLO / ... folder.")
@click.option("--from", "fmt", type=click.Choice(_format_choices()), default=None,
              help="With --dataset: its format (default: recognised from the path; `images` for a plain folder).")
@click.option("--image-root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="With --dataset: the folder its file names are relative to (default: images/ beside it).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output: results JSON (detection/instance), a folder (semantic) or a CSV (classification).")
@click.option("--overwrite", is_flag=True, default=False,
              help="Replace --out if it exists (once the new one is whole).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Images per batch (default: backend's).")
@click.option("--score-threshold", type=float, default=None,
              help="Drop detections scored below this (also passed to the backend when it takes it).")
@click.option("--max-images", type=click.IntRange(1), default=None, help="Predict only the first N images.")
@click.option("--image-range", default="auto", show_default=True, metavar="auto|minmax|LO:HI",
              help="How images of more than 8 bits become 0..255: by bit depth, each image's own min..max, or "
                   "LO..HI (clipped).")
@click.option("--skip-failures", is_flag=True, default=False,
              help="Carry on past images that cannot be read or predicted; count and list them (exit 2 if all "
                   "fail).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Backend option (repeatable), e.g. --option threads=2; VALUE is JSON when it parses as JSON.")
@scheduler_option
@click.option("--shard-size", type=click.IntRange(1), default=None,
              help="With --scheduler: images per task (rounded up to a multiple of the batch size; default: about "
                   "four shards per worker).")
@click.option("--keep-shards", is_flag=True, default=False,
              help="With --scheduler: OUT is a folder of the shards' files part-NNNNN.json / .csv (annokit eval "
                   "--pred 'OUT/part-*.json' reads them as one) instead of one merged file.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but warnings and errors.")
def predict_command(backend: str, model: str | None, task: str | None, images_dir: Path | None,
                    dataset: str | None, fmt: str | None, image_root: Path | None, out: Path, overwrite: bool,
                    batch_size: int | None, score_threshold: float | None, max_images: int | None,
                    image_range: str, skip_failures: bool, options: tuple[str, ...], scheduler: str | None,
                    shard_size: int | None, keep_shards: bool, quiet: bool) -> None:
    """Run a model over images and write predictions that `annokit eval` scores."""
    from annokit.errors import FormatError
    from annokit.predict import RunFailed, parse_image_range, run_predictor, write_predictions

    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise FormatError(out, None, "destination exists (pass --overwrite to replace it)")
    scaling = parse_image_range(image_range)
    items = _items(images_dir, dataset, fmt, image_root)[:max_images]
    backend, opts = _spec(backend, model, task, score_threshold, options)
    if scheduler is not None:
        _predict_on_cluster(backend, opts, items, out, task=task, scheduler=scheduler, batch_size=batch_size,
                            skip_failures=skip_failures, score_threshold=score_threshold, image_range=scaling,
                            shard_size=shard_size, keep_shards=keep_shards, overwrite=overwrite, quiet=quiet)
        return
    if keep_shards or shard_size is not None:
        raise click.UsageError("--keep-shards and --shard-size go with --scheduler")
    predictor = _build(backend, opts, task)
    try:
        with ProgressBar("predict", len(items), quiet=quiet) as bar:
            result = run_predictor(predictor, items, batch_size=batch_size, skip_failures=skip_failures,
                                   score_threshold=score_threshold, image_range=scaling, progress=bar)
    except RunFailed as exc:
        _show_failures(exc.failures, len(items))
        raise
    written = write_predictions(result, out, overwrite=overwrite)
    if result.failures:
        _show_failures(result.failures, result.total)
    what = {"detection": "detections", "instance": "detections"}.get(result.task.value)
    n_dets = len(result.instances()) if what else 0
    _done(quiet, result.task.value, n_dets, len(result.items), len(result.failures), result.total, out, written)


def _done(quiet: bool, task: str, n_dets: int, n_items: int, n_failed: int, total: int, out: Path,
          written: list[Path]) -> None:
    """The closing line: what was predicted and where it went."""
    if quiet:
        return
    what = {"detection": "detections", "instance": "detections"}.get(task)
    n = f"{n_dets} {what} on " if what else ""
    dest = out if len(written) <= 1 else f"{out}/ ({len(written)} files)"
    click.echo(f"{n}{n_items} images ({task}); {n_failed} of {total} images failed -> {dest}")


def _predict_on_cluster(backend: str, opts: dict[str, Any], items: list[Any], out: Path, *, task: str | None,
                        scheduler: str, batch_size: int | None, skip_failures: bool, score_threshold: float | None,
                        image_range: Any, shard_size: int | None, keep_shards: bool, overwrite: bool,
                        quiet: bool) -> None:
    """``--scheduler``: image shards on a dask cluster (docs/scale-out.md); the same output."""
    from annokit.distributed.predict import PredictorSpec, predict_sharded
    from annokit.predict import RunFailed

    try:
        with scheduler_client(scheduler, quiet=quiet) as client, ProgressBar("predict", None, quiet=quiet) as bar:
            run = predict_sharded(PredictorSpec.of(backend, opts), items, out, scheduler=client, task=task,
                                  batch_size=batch_size, skip_failures=skip_failures,
                                  score_threshold=score_threshold, image_range=image_range, shard_size=shard_size,
                                  keep_shards=keep_shards, overwrite=overwrite, progress=bar)
    except RunFailed as exc:
        _show_failures(exc.failures, len(items))
        raise
    if run.failures:
        _show_failures(run.failures, run.total)
    _done(quiet, run.task, run.n_detections, run.n_items, len(run.failures), run.total, out, run.written)


@click.command(name="predictors", epilog="Examples:\n\n  annokit predictors\n  annokit predictors -q && echo ready")
@click.option("--quiet", "-q", is_flag=True, default=False,
              help="Print nothing: the exit status says whether every backend can run (0) or not (1).")
def predictors_command(quiet: bool) -> None:
    """List the predictor backends installed (entry-point group annokit.predictors) and whether each can run."""
    from annokit.errors import AnnokitError
    from annokit.predict.registry import available_backends, load_backend, missing_requirements

    all_ready = True
    for name, info in available_backends().items():
        try:
            missing = missing_requirements(load_backend(name))
            state = "ready" if not missing else f"needs {', '.join(missing)}"
        except AnnokitError as exc:
            state = f"broken: {exc}"
        all_ready = all_ready and state == "ready"
        if not quiet:
            click.echo(f"{name:<14} {state:<28} {info.target}  [{info.source}]")
    if quiet and not all_ready:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [predict_command, predictors_command]
