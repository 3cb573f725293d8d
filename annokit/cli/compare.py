"""``annokit compare``: two or more models on one ground truth, with paired bootstrap intervals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from annokit.cli._common import (
    Console,
    ProgressBar,
    from_option,
    json_option,
    overwrite_option,
    quiet_option,
    read_instance_dataset,
    refuse_existing,
    write_json_output,
)
from annokit.cli._eval_protocols import (
    CocoParamOptions,
    ProtocolInputs,
    coco_param_options,
    page_protocol,
    protocol_options,
    protocol_report,
    refuse_folders,
)
from annokit.cli._slices import SLICES_HELP, read_slice_options, slice_options
from annokit.cli.report import images_folder

if TYPE_CHECKING:
    from annokit.metrics.coco import COCOParams

EPILOG = f"""\b
Examples:
  annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task detection \\
      --dataset sample_data/scenes/gt.json --out pred_cnn.json
  annokit compare --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --pred pred_cnn.json \\
      --names imitation,cnn --out compare/
  annokit compare --gt gt.json --pred a.json --pred b.json --pred c.json --bootstrap 2000 --seed 7 --out cmp/
  annokit compare --gt gt.json --pred a.json --pred b.json --slice-by weather --out cmp/ --json - -q
  annokit compare --protocol dota --gt labelTxt/ --pred task1_a/ --pred task1_b/ --out cmp/
  annokit compare --gt kp_gt.json --pred a.json --pred b.json --iou-type keypoints --kpt-sigmas 0.05,0.05,0.08 \\
      --max-dets 10,20 --out cmp/

Writes DIR/compare.json and DIR/compare.html (self-contained). The first --pred is the baseline: every delta is
model - baseline, the difference of the two evaluations (the numbers annokit eval prints). Intervals: a paired
bootstrap over images (--bootstrap resamples, reproducible with --seed; 0: none), 2.5-97.5 percentiles of the
resampled deltas; p: two-sided bootstrap p-value. With --iou-type keypoints|rotated: the COCO numbers of that IoU type
with the same bootstrap. With --protocol (lvis, openimages, dota, voc07, voc12): the protocol's metrics and
per-class numbers (those of annokit eval --protocol) with exact deltas and no intervals ("ci95": null, "bootstrap"
says why). --iou-thrs, --max-dets, --area-rng and --kpt-sigmas (as annokit eval's) set the COCO parameters
(bbox, segm, keypoints, rotated). {SLICES_HELP}
"""


def _names(text: str | None, n: int) -> list[str] | None:
    """``--names a,b,c`` as a list (as many as --pred)."""
    if text is None:
        return None
    names = [s.strip() for s in text.split(",")]
    if len(names) != n or not all(names) or len(set(names)) != n:
        raise click.BadParameter(f"{text!r}: {n} distinct names, comma-separated, one per --pred",
                                 param_hint="--names")
    return names


def _summary(data: dict[str, Any], names: list[str]) -> str:
    """The metric table printed by the command."""
    lines = [f"{'metric':<8}" + "".join(f"{n[:10]:>11}" for n in names) + f"{'delta':>10}  {'95% interval':<21}"
             f"{'p':>6}"]
    for key, e in data["metrics"].items():
        vals = "".join(f"{e[n]:11.4f}" if e[n] is not None else f"{'-':>11}" for n in names)
        d = f"{e['delta']:+10.4f}" if e["delta"] is not None else f"{'-':>10}"
        ci = f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]" if e["ci95"] else "-"
        p = f"{e['p']:6.3f}" if e["p"] is not None else f"{'-':>6}"
        lines.append(f"{key:<8}{vals}{d}  {ci:<21}{p}")
    return "\n".join(lines)


@click.command(name="compare", epilog=EPILOG)
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: a dataset (COCO instances JSON, or any format with --from).")
@from_option("--gt")
@click.option("--pred", "preds", required=True, multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="A model's predictions (COCO results JSON; dota: a folder of Task1 files); repeat for each model, "
                   "the baseline first.")
@click.option("--names", default=None, help="Comma-separated model names (default: a,b,c,...).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm", "keypoints", "rotated"]), default="bbox",
              show_default=True, help="Box (bbox) or mask (segm) IoU; keypoints (OKS) or rotated (COCO-style "
                                      "\"rbox\"): the COCO numbers with intervals, without TIDE, images, slices.")
@click.option("--bootstrap", type=click.IntRange(0, 100_000), default=1000, show_default=True,
              help="Paired bootstrap resamples of the images (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resamples.")
@click.option("--fixed", is_flag=True, default=False, help="Fix pycocotools' known defects (docs/coco-eval.md).")
@slice_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created; an existing one needs --overwrite).")
@overwrite_option("the --out folder (once the new one is whole)")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of the images (default: 'images' beside --gt when present; else grey canvases).")
@click.option("--top-images", type=click.IntRange(0, 500), default=12, show_default=True,
              help="Most-changed images drawn on the page.")
@click.option("--title", default=None, help="Page title.")
@json_option("compare.json's content")
@protocol_options
@coco_param_options
@quiet_option
def compare_command(gt: Path, src_format: str | None, preds: tuple[Path, ...], names: str | None,
                    iou_type: str, bootstrap: int, seed: int, fixed: bool, slice_by: str | None,
                    slices_file: Path | None, out: Path, overwrite: bool, images: Path | None, top_images: int,
                    title: str | None, json_out: Path | None, protocol: str | None, hierarchy: Path | None,
                    iou_mode: Literal["devkit", "continuous"] | None, ap_method: Literal["11point", "allpoint"] | None,
                    iou_thrs: tuple[float, ...] | None, max_dets: tuple[int, ...] | None, area_rng: tuple[str, ...],
                    kpt_sigmas: tuple[float, ...] | None, quiet: bool) -> None:
    """Compare models: metric deltas with bootstrap intervals, per class, TIDE, slices, most-changed images."""
    from annokit.report.compare import compare_models, write_comparison
    from annokit.report.inputs import read_predictions

    if len(preds) < 2:
        raise click.UsageError("compare needs --pred twice or more (the baseline first)")
    labels = _names(names, len(preds))
    refuse_existing(overwrite, out, json_out)
    proto = page_protocol(protocol, iou_type, src_format=src_format, slice_by=slice_by, slices_file=slices_file)
    CocoParamOptions(iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng, kpt_sigmas=kpt_sigmas).check(
        proto, iou_type, coco_page=True)
    inp = ProtocolInputs(gt=gt, pred=gt, hierarchy=hierarchy, iou_mode=iou_mode or "auto", fixed=fixed,
                         ap_method=ap_method or "11point", quiet=quiet,
                         iou_type=iou_type if proto in (None, "coco", "lvis") else None, iou_thrs=iou_thrs,
                         max_dets=max_dets, area_rng=area_rng, kpt_sigmas=kpt_sigmas)
    if proto is not None:
        _protocol_compare(proto, inp, preds, labels or [chr(97 + i) for i in range(len(preds))], out, overwrite,
                          title or "annokit compare: " + " vs ".join(p.name for p in preds), json_out,
                          (bootstrap, seed))
        return
    refuse_folders(*preds)
    with ProgressBar("annokit compare", None, quiet=quiet) as bar:
        ds = read_instance_dataset(gt, src_format)
        read = [read_predictions(p, ds) for p in preds]
        named = read_slice_options(ds, slice_by, slices_file)
        box_or_mask = cast(Literal["bbox", "segm"], iou_type)  # keypoints and rotated ran above
        cmp = compare_models(ds, [r.dets for r in read], names=labels, iou_type=box_or_mask, bootstrap=bootstrap,
                             seed=seed, fixed=fixed, slices=named, top_images=top_images, params=_params(inp),
                             title=title or "annokit compare: " + " vs ".join(p.name for p in preds), progress=bar)
        notes = [f"{p.name}: {r.note()}" for p, r in zip(preds, read) if r.unevaluated]
        page = write_comparison(ds, cmp, out, image_root=images_folder(images, gt), notes=notes, overwrite=overwrite)
    data = cmp.to_dict()
    if json_out is not None:
        write_json_output(json_out, data)
    Console.of(quiet, json_out).echo("\n\n".join([_summary(data, list(cmp.names)), *notes, f"wrote {page}"]))


def _params(inp: ProtocolInputs) -> COCOParams | None:
    """The COCO parameters of the bbox / segm page: None (COCO's defaults) unless an option sets one."""
    if not (inp.iou_thrs or inp.max_dets or inp.area_rng):
        return None
    from annokit.analysis.protocols import coco_params

    return coco_params(inp.options())


def _protocol_compare(protocol: str, inp: ProtocolInputs, preds: tuple[Path, ...], names: list[str], out: Path,
                      overwrite: bool, title: str, json_out: Path | None, bootstrap: tuple[int, int]) -> None:
    """``annokit compare --protocol`` (or ``--iou-type keypoints|rotated``): each model evaluated by the protocol,
    exact deltas; paired bootstrap intervals for COCO keypoints / rotated (``bootstrap``: resamples, seed), none
    for the other protocols (said in the JSON and on the page)."""
    from annokit.report.protocol import compare_coco_files, compare_protocol_reports, write_protocol_comparison

    if protocol == "coco":
        with ProgressBar("annokit compare", None, quiet=inp.quiet) as bar:
            data = compare_coco_files(inp.gt, preds, names=names, bootstrap=bootstrap[0], seed=bootstrap[1],
                                      options=inp.options(), title=title, progress=bar)
    else:
        reports = [protocol_report(protocol, replace(inp, pred=p), label=f"annokit compare {n}")
                   for p, n in zip(preds, names)]
        data = compare_protocol_reports(reports, names, title=title)
    page = write_protocol_comparison(data, out, overwrite=overwrite)
    if json_out is not None:
        write_json_output(json_out, data)
    note = data["bootstrap"].get("note")
    Console.of(inp.quiet, json_out).echo("\n\n".join([_summary(data, names), *([note] if note else []),
                                                       f"wrote {page}"]))
