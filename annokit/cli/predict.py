"""``annokit predict`` (run a model over images) and ``annokit predictors`` (list the backends)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import click

from annokit.cli._common import ProgressBar

__all__ = ["COMMANDS", "predict_command", "predictors_command"]

PREDICT_EPILOG = """\b
Examples:
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task detection \\
      --dataset coco:sample_data/scenes/gt.json --out pred.json
  annokit eval --gt sample_data/scenes/gt.json --pred pred.json --iou-type bbox
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task semantic \\
      --images sample_data/scenes/images --out pred_semantic/
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task classification \\
      --images sample_data/scenes/images --out scores.csv
  annokit predict --backend my_pkg.backend:MyPredictor --option weights=w.bin --images imgs/ --out p.json

\b
Output: detection / instance -> COCO results JSON; semantic -> a folder of PNG label maps;
classification -> a CSV of scores (file,<label>,...). With --images, image ids are 1..N in sorted file order;
with --dataset coco:GT.json they are the ground truth's, so `annokit eval --gt GT.json` scores the output.
"""


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE", param_hint="--option")
    try:
        return key.replace("-", "_"), json.loads(value)
    except ValueError:
        return key.replace("-", "_"), value


def _accepts(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind == inspect.Parameter.VAR_KEYWORD for p in params)


@click.command(name="predict", epilog=PREDICT_EPILOG)
@click.option("--backend", default="onnx", show_default=True,
              help="A backend name (see `annokit predictors`) or module:attr of an unregistered one.")
@click.option("--model", "model", default=None, help="The model file (onnx) or name (torchvision).")
@click.option("--task", type=click.Choice(["classification", "detection", "instance", "semantic"]), default=None,
              help="What to predict (default: the model's own default task).")
@click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of images.")
@click.option("--dataset", default=None,
              help="FORMAT:PATH of a dataset whose images to predict: coco:GT.json, csv:LABELS.csv or images:DIR.")
@click.option("--image-root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="With --dataset: the folder its file names are relative to (default: images/ beside it).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output: results JSON (detection/instance), a folder (semantic) or a CSV (classification).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Images per batch (default: backend's).")
@click.option("--score-threshold", type=float, default=None, help="Drop detections scored below this.")
@click.option("--max-images", type=click.IntRange(1), default=None, help="Predict only the first N images.")
@click.option("--skip-failures", is_flag=True, default=False,
              help="Carry on past images that cannot be read or predicted; count and list them.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Backend option (repeatable), e.g. --option threads=2; VALUE is JSON when it parses as JSON.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")
def predict_command(backend: str, model: str | None, task: str | None, images_dir: Path | None,
                    dataset: str | None, image_root: Path | None, out: Path, batch_size: int | None,
                    score_threshold: float | None, max_images: int | None, skip_failures: bool,
                    options: tuple[str, ...], quiet: bool) -> None:
    """Run a model over images and write predictions that `annokit eval` scores."""
    from annokit.predict import images_from_dataset, images_from_dir, run_predictor, write_predictions
    from annokit.predict.registry import load_backend, load_predictor

    if (images_dir is None) == (dataset is None):
        raise click.UsageError("give exactly one of --images DIR and --dataset FORMAT:PATH")
    items = images_from_dir(images_dir) if images_dir is not None else images_from_dataset(
        dataset, image_root=image_root)[0]
    if max_images is not None:
        items = items[:max_images]
    opts = dict(_parse_option(o) for o in options)
    if model is not None:
        opts["model"] = model
    factory = load_backend(backend)
    if task is not None and _accepts(factory, "task"):
        opts["task"] = task
    if score_threshold is not None and _accepts(factory, "score_threshold"):
        opts.setdefault("score_threshold", score_threshold)
    predictor = load_predictor(backend, **opts)
    has = str(getattr(predictor.task, "value", predictor.task))
    if task is not None and has != task:
        raise click.UsageError(f"backend {backend!r} predicts {has}, not {task} (it takes no task option)")
    try:
        with ProgressBar("predict", len(items), quiet=quiet) as bar:
            result = run_predictor(predictor, items, batch_size=batch_size, skip_failures=skip_failures,
                                   score_threshold=score_threshold, progress=bar)
    finally:
        close = getattr(predictor, "close", None)
        if callable(close):
            close()
    written = write_predictions(result, out)
    if result.failures:
        click.echo(f"annokit: warning: {len(result.failures)} of {len(items)} images failed and were skipped:",
                   err=True)
        for it, why in result.failures[:20]:
            click.echo(f"  {it.path}: {why}", err=True)
        if len(result.failures) > 20:
            click.echo(f"  ... and {len(result.failures) - 20} more", err=True)
    if not quiet:
        what = {"detection": "detections", "instance": "detections"}.get(result.task.value)
        n = f"{len(result.instances())} {what} on " if what else ""
        dest = out if len(written) <= 1 else f"{out}/ ({len(written)} files)"
        click.echo(f"{n}{len(result.items)} images ({result.task.value}, {len(result.failures)} failed) -> {dest}")


@click.command(name="predictors", epilog="Example:\n\n  annokit predictors")
def predictors_command() -> None:
    """List the predictor backends installed (entry-point group annokit.predictors) and whether each can run."""
    from annokit.errors import AnnokitError
    from annokit.predict.registry import available_backends, load_backend, missing_requirements

    for name, info in available_backends().items():
        try:
            missing = missing_requirements(load_backend(name))
            state = "ready" if not missing else f"needs {', '.join(missing)}"
        except AnnokitError as exc:
            state = f"broken: {exc}"
        click.echo(f"{name:<14} {state:<28} {info.target}  [{info.source}]")


COMMANDS: list[click.Command] = [predict_command, predictors_command]
