"""Train, export and score the small CNN shipped as ``sample_data/model/scenes_cnn.onnx``.

    pip install torch onnx           # training only; annokit itself never imports torch
    python sample_data/model/train.py            # ~3-5 minutes on 2 CPU cores: train, export, score
    python sample_data/model/train.py --score    # only re-score the shipped .onnx (needs onnxruntime)

Training scenes come from ``sample_data/make_scenes.py`` with seed 1 (the sample set uses seed 20240611, so no
training image is a sample image). One network, three heads, all at a quarter of the input resolution or coarser:

* ``class_logits`` ``(N, 4)``: circle, square, triangle, background (the class of the largest object);
* ``seg_logits`` ``(N, 4, 30, 40)``: per-pixel scores of background, circle, square, triangle;
* ``heatmap`` ``(N, 3, 30, 40)`` (sigmoid), ``box_wh`` ``(N, 2, 30, 40)`` (pixels) and ``box_offset``
  ``(N, 2, 30, 40)``: CenterNet-style object centres, sizes and sub-cell offsets at stride 4.

The ONNX file carries its preprocessing, its class names and a decoder per task in the metadata key ``annokit``,
so ``annokit predict --backend onnx --model sample_data/model/scenes_cnn.onnx --task detection ...`` needs no
other option. Scoring runs the model through annokit's own onnx backend (the code ``annokit predict`` runs) on
``sample_data/scenes`` and writes the figures to ``sample_data/model/scenes_cnn.json`` and to the tables of the
repository's README and ``sample_data/model/README.md``; the tests pin them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

MODEL_PATH = HERE / "scenes_cnn.onnx"
FIGURES_PATH = HERE / "scenes_cnn.json"
TRAIN_SEED = 1
NUM_TRAIN = 2400
EPOCHS = 12
BATCH = 32
STRIDE = 4
CLASS_LABELS = ["circle", "square", "triangle", "background"]
SEG_LABELS = ["background", "circle", "square", "triangle"]
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def load_generator():
    spec = importlib.util.spec_from_file_location("make_scenes", REPO / "sample_data" / "make_scenes.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_scenes"] = mod
    spec.loader.exec_module(mod)
    return mod


def metadata() -> dict:
    """What the onnx backend reads: preprocessing, labels and a decoder per task."""
    return {
        "version": 1,
        "name": "annokit scenes CNN",
        "default_task": "detection",
        "preprocess": {"size": [120, 160], "resize": "stretch", "scale": 1 / 255, "mean": list(MEAN),
                       "std": list(STD), "layout": "NCHW", "channels": "RGB"},
        "tasks": {
            "classification": {"decoder": "softmax", "outputs": {"logits": "class_logits"},
                               "labels": {"ids": [0, 1, 2, 3], "names": CLASS_LABELS}},
            "semantic": {"decoder": "segmentation", "outputs": {"scores": "seg_logits"},
                         "labels": {"ids": [0, 1, 2, 3], "names": SEG_LABELS}},
            "detection": {"decoder": "centernet",
                          "outputs": {"heatmap": "heatmap", "wh": "box_wh", "offset": "box_offset"},
                          "options": {"max_detections": 100},
                          "labels": {"ids": [1, 2, 3], "names": SEG_LABELS[1:]}},
            "instance": {"decoder": "centernet",
                         "outputs": {"heatmap": "heatmap", "wh": "box_wh", "offset": "box_offset",
                                     "masks_from": "seg_logits"},
                         "options": {"max_detections": 100},
                         "labels": {"ids": [1, 2, 3], "names": SEG_LABELS[1:]}},
        },
    }


# ------------------------------------------------------------------------------------------------ data
def targets(scene, ms) -> dict:
    """Training targets of one scene (numpy)."""
    h, w = scene.image.shape[:2]
    gh, gw = h // STRIDE, w // STRIDE
    heat = np.zeros((3, gh, gw), np.float32)
    heat_weight = np.ones((gh, gw), np.float32)
    wh = np.zeros((2, gh, gw), np.float32)
    off = np.zeros((2, gh, gw), np.float32)
    reg_mask = np.zeros((gh, gw), np.float32)
    yy, xx = np.mgrid[0:gh, 0:gw]
    for o in scene.objects:
        if o.iscrowd:
            m = ms.rle_to_bitmap(o.rle).reshape(gh, STRIDE, gw, STRIDE).any(axis=(1, 3))
            heat_weight[m] = 0.0
            continue
        p = np.asarray(o.polygon).reshape(-1, 2)
        l, t = p.min(0)
        r, b = p.max(0)
        cx, cy = (l + r) / 2 / STRIDE, (t + b) / 2 / STRIDE
        ix, iy = min(int(cx), gw - 1), min(int(cy), gh - 1)
        sigma = max(0.6, 0.12 * np.sqrt((r - l) * (b - t)) / STRIDE)
        g = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
        c = o.category_id - 1
        heat[c] = np.maximum(heat[c], g)
        heat[c, iy, ix] = 1.0
        wh[:, iy, ix] = (r - l, b - t)
        off[:, iy, ix] = (cx - ix, cy - iy)
        reg_mask[iy, ix] = 1.0
    return {"heat": heat, "heat_weight": heat_weight, "wh": wh, "off": off, "reg_mask": reg_mask,
            "seg": scene.semantic.astype(np.int64), "cls": CLASS_LABELS.index(scene.label)}


def make_training_set(ms, n: int, seed: int) -> dict:
    imgs, tg = [], []
    for i in range(n):
        sc = ms.make_scene(seed, i)
        imgs.append(sc.image)
        tg.append(targets(sc, ms))
    out = {k: np.stack([t[k] for t in tg]) for k in tg[0]}
    out["image"] = np.stack(imgs)
    return out


# ------------------------------------------------------------------------------------------------ model
def build_model():
    import torch
    from torch import nn

    def cbr(cin: int, cout: int, stride: int = 1, dil: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dil, dilation=dil, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class ScenesCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.s2 = cbr(3, 16, 2)
            self.s4 = nn.Sequential(cbr(16, 32, 2), cbr(32, 32))
            self.s8 = nn.Sequential(cbr(32, 48, 2), cbr(48, 48, dil=2), cbr(48, 48, dil=4))
            self.fuse = nn.Sequential(nn.Conv2d(32 + 48, 40, 1, bias=False), nn.BatchNorm2d(40), nn.ReLU(inplace=True))
            self.head = cbr(40, 40)
            self.heat = nn.Conv2d(40, 3, 1)
            self.wh = nn.Conv2d(40, 2, 1)
            self.off = nn.Conv2d(40, 2, 1)
            self.seg = nn.Conv2d(40, 4, 1)
            self.cls = nn.Linear(96, 4)
            nn.init.constant_(self.heat.bias, -2.2)

        def forward(self, x):  # x: (N, 3, 120, 160) normalized
            f4 = self.s4(self.s2(x))
            f8 = self.s8(f4)
            up = nn.functional.interpolate(f8, size=f4.shape[-2:], mode="nearest")
            f = self.head(self.fuse(torch.cat([f4, up], 1)))
            pooled = torch.cat([f8.mean((2, 3)), f8.amax((2, 3))], 1)
            return (self.cls(pooled), self.seg(f), torch.sigmoid(self.heat(f)),
                    torch.exp(self.wh(f).clamp(-5, 6)) * STRIDE * 4, torch.sigmoid(self.off(f)))

    return ScenesCNN()


def losses(out, t):
    import torch
    from torch.nn import functional as F

    cls_logits, seg_logits, heat, wh, off = out
    l_cls = F.cross_entropy(cls_logits, t["cls"])
    seg_up = F.interpolate(seg_logits, size=t["seg"].shape[-2:], mode="bilinear", align_corners=False)
    l_seg = F.cross_entropy(seg_up, t["seg"])
    # CenterNet focal loss on the heat maps
    p = heat.clamp(1e-4, 1 - 1e-4)
    gt = t["heat"]
    pos = gt.eq(1).float()
    wgt = t["heat_weight"][:, None]
    pos_l = torch.log(p) * (1 - p) ** 2 * pos
    neg_l = torch.log(1 - p) * p**2 * (1 - gt) ** 4 * (1 - pos) * wgt
    n_pos = pos.sum().clamp(min=1)
    l_heat = -(pos_l.sum() + neg_l.sum()) / n_pos
    m = t["reg_mask"][:, None]
    l_wh = (torch.abs(torch.log(wh.clamp(min=1e-3)) - torch.log(t["wh"].clamp(min=1e-3))) * m).sum() / n_pos
    l_off = (torch.abs(off - t["off"]) * m).sum() / n_pos
    return l_cls, l_seg, l_heat, l_wh, l_off


def train(ms, *, n_train: int, epochs: int, log=print):
    import torch

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    data = make_training_set(ms, n_train, TRAIN_SEED)
    log(f"generated {n_train} training scenes in {time.time() - t0:.0f}s")
    x_all = torch.from_numpy(data["image"]).permute(0, 3, 1, 2).contiguous()
    tens = {k: torch.from_numpy(v) for k, v in data.items() if k != "image"}
    model = build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * (n_train // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(0)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n_train, generator=gen)
        tot = np.zeros(5)
        for s in range(n_train // BATCH):
            idx = perm[s * BATCH:(s + 1) * BATCH]
            x = (x_all[idx].float() / 255 - mean) / std
            flip = torch.rand(1, generator=gen).item() < 0.5
            t = {k: v[idx] for k, v in tens.items()}
            if flip:  # horizontal flip (every shape class is flip-symmetric in distribution)
                x = x.flip(-1)
                t = dict(t, heat=t["heat"].flip(-1), heat_weight=t["heat_weight"].flip(-1), seg=t["seg"].flip(-1))
                # the regression targets sit on the centre cells: recompute them from the flipped maps
                t["wh"], t["off"], t["reg_mask"] = _flip_reg(tens, idx)
            ls = losses(model(x), t)
            loss = ls[0] + ls[1] + ls[2] + 0.5 * ls[3] + ls[4]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += [float(v.detach()) for v in ls]
        log(f"epoch {ep + 1}/{epochs}: losses cls/seg/heat/wh/off "
            + " ".join(f"{v:.3f}" for v in tot / (n_train // BATCH)) + f"  ({time.time() - t0:.0f}s)")
    return model


def _flip_reg(tens, idx):
    """Regression targets of horizontally flipped images: the centre cell moves and the x offset mirrors."""
    import torch

    wh, off, m = tens["wh"][idx], tens["off"][idx], tens["reg_mask"][idx]
    gw = m.shape[-1]
    wh2, off2, m2 = torch.zeros_like(wh), torch.zeros_like(off), torch.zeros_like(m)
    for b, y, x in zip(*torch.nonzero(m, as_tuple=True)):
        cx = x + off[b, 0, y, x]
        cx2 = gw - cx  # centre in grid units after the flip
        x2 = min(int(cx2), gw - 1)
        wh2[b, :, y, x2] = wh[b, :, y, x]
        off2[b, 0, y, x2] = cx2 - x2
        off2[b, 1, y, x2] = off[b, 1, y, x]
        m2[b, y, x2] = 1
    return wh2, off2, m2


def export(model, path: Path) -> None:
    import onnx
    import torch

    model.eval()
    dummy = torch.zeros(1, 3, 120, 160)
    torch.onnx.export(model, dummy, str(path), input_names=["image"],
                      output_names=["class_logits", "seg_logits", "heatmap", "box_wh", "box_offset"],
                      dynamic_axes={"image": {0: "batch"}, **{k: {0: "batch"} for k in
                                    ["class_logits", "seg_logits", "heatmap", "box_wh", "box_offset"]}},
                      opset_version=17, dynamo=False)
    m = onnx.load(str(path))
    del m.metadata_props[:]
    entry = m.metadata_props.add()
    entry.key, entry.value = "annokit", json.dumps(metadata(), sort_keys=True)
    m.producer_name, m.producer_version = "annokit sample_data/model/train.py", "1"
    m.doc_string = "Small CNN for the annokit synthetic scenes: classification, semantic and detection heads."
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


# ------------------------------------------------------------------------------------------------ scoring
def run_cli(args: list[str]) -> None:
    """``annokit ARGS`` in this process (the same code the ``annokit`` script runs)."""
    from annokit.cli import cli

    cli.main(args=[str(a) for a in args], prog_name="annokit", standalone_mode=False)


def predict_all(model: Path, scenes: Path, out: Path) -> dict[str, Path]:
    """``annokit predict`` for every task of the model on ``scenes``; returns the outputs by task."""
    outs = {"classification": out / "scores.csv", "semantic": out / "semantic", "detection": out / "det.json",
            "instance": out / "inst.json"}
    for task, dest in outs.items():
        run_cli(["predict", "--backend", "onnx", "--model", model, "--task", task,
                 "--dataset", scenes / "gt.json", "--out", dest, "--quiet"])
    return outs


def accuracy(gt_csv: Path, pred_csv: Path) -> float:
    """Top-1 accuracy: arg-max of the score columns against the ``label`` column, matched by ``file``."""
    import csv

    gt = {r["file"]: r["label"] for r in csv.DictReader(open(gt_csv))}
    rows = list(csv.DictReader(open(pred_csv)))
    names = [c for c in rows[0] if c != "file"]
    hits = [names[int(np.argmax([float(r[c]) for c in names]))] == gt[r["file"]] for r in rows]
    if len(hits) != len(gt):
        raise ValueError(f"{pred_csv}: {len(hits)} rows for {len(gt)} images")
    return float(np.mean(hits))


def confusion(gt_dir: Path, pred_dir: Path, num_classes: int) -> np.ndarray:
    """Summed ``(K, K)`` pixel confusion matrix (rows: ground truth) over the PNGs of ``gt_dir``."""
    from PIL import Image

    conf = np.zeros((num_classes, num_classes), np.int64)
    for f in sorted(gt_dir.glob("*.png")):
        g = np.asarray(Image.open(f)).astype(np.int64).ravel()
        p = np.asarray(Image.open(pred_dir / f.name)).astype(np.int64).ravel()
        ok = g < num_classes
        conf += np.bincount(g[ok] * num_classes + p[ok], minlength=num_classes**2).reshape(num_classes, num_classes)
    return conf


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    tp = np.diag(conf).astype(np.float64)
    return tp / (conf.sum(0) + conf.sum(1) - tp)


def coco_stats(gt_json: Path, pred_json: Path, iou_type: str) -> list[float]:
    """The 12 COCO numbers (annokit.metrics.coco when present, else pycocotools' COCOeval)."""
    try:
        from annokit.io.coco import read_instances, read_results
        from annokit.metrics.coco import COCOParams, evaluate

        gt = read_instances(gt_json)
        return [float(v) for v in evaluate(gt, read_results(pred_json, gt),
                                           params=COCOParams(iou_type=iou_type)).stats]
    except ImportError:
        import contextlib
        import io

        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(gt_json))
            ev = COCOeval(gt, gt.loadRes(str(pred_json)), iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return [float(v) for v in ev.stats]


def figures_from_outputs(outs: dict[str, Path], scenes: Path) -> dict:
    conf = confusion(scenes / "semantic", outs["semantic"], len(SEG_LABELS))
    ious = iou_per_class(conf)
    bbox = coco_stats(scenes / "gt.json", outs["detection"], "bbox")
    segm = coco_stats(scenes / "gt.json", outs["instance"], "segm")
    r = lambda v: round(float(v), 4)  # noqa: E731
    return {
        "classification_accuracy": r(accuracy(scenes / "labels.csv", outs["classification"])),
        "semantic_miou": r(np.nanmean(ious)),
        "semantic_iou": {n: r(v) for n, v in zip(SEG_LABELS, ious)},
        "bbox_ap": r(bbox[0]), "bbox_ap50": r(bbox[1]), "bbox_ap75": r(bbox[2]),
        "bbox_ap_small": r(bbox[3]), "bbox_ap_medium": r(bbox[4]), "bbox_ap_large": r(bbox[5]),
        "segm_ap": r(segm[0]), "segm_ap50": r(segm[1]),
    }


def score(model_path: Path = MODEL_PATH, scenes: Path = REPO / "sample_data" / "scenes", *,
          n_train: int = NUM_TRAIN, epochs: int = EPOCHS) -> dict:
    """Run the model with ``annokit predict`` on ``scenes`` (every task) and compute its figures."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outs = predict_all(model_path, scenes, Path(tmp))
        figs = figures_from_outputs(outs, scenes)
    figs["model_bytes"] = model_path.stat().st_size
    figs["scenes"] = "sample_data/scenes (48 images)"
    figs["train"] = {"seed": TRAIN_SEED, "scenes": n_train, "epochs": epochs}
    return figs


README_PATHS = (REPO / "README.md", HERE / "README.md")
TABLE_START, TABLE_END = "<!-- scenes-cnn-figures:start -->", "<!-- scenes-cnn-figures:end -->"


def figures_table(figs: dict) -> str:
    """The figures as the Markdown table both READMEs show (between the two markers)."""
    iou = ", ".join(f"{k} {v:.3f}" for k, v in figs["semantic_iou"].items())
    rows = [
        ("classification (class of the largest object, 4 classes)",
         f"accuracy {figs['classification_accuracy']:.3f}"),
        ("semantic segmentation (background + 3 classes)", f"mIoU {figs['semantic_miou']:.3f} ({iou})"),
        ("detection", f"box AP {figs['bbox_ap']:.3f}, AP50 {figs['bbox_ap50']:.3f}, AP75 {figs['bbox_ap75']:.3f} "
                      f"(small {figs['bbox_ap_small']:.3f}, medium {figs['bbox_ap_medium']:.3f}, "
                      f"large {figs['bbox_ap_large']:.3f})"),
        ("instance segmentation (box x segmentation head)",
         f"mask AP {figs['segm_ap']:.3f}, AP50 {figs['segm_ap50']:.3f}"),
    ]
    return "\n".join(["| task | figure |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


def with_figures(text: str, figs: dict) -> str:
    """``text`` with the block between the markers replaced by :func:`figures_table` (ValueError if absent)."""
    a, b = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:a] + "\n" + figures_table(figs) + "\n" + text[b:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--score", action="store_true", help="only score the shipped model")
    ap.add_argument("--n-train", type=int, default=NUM_TRAIN)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args()
    if not args.score:
        import torch

        torch.set_num_threads(2)
        model = train(load_generator(), n_train=args.n_train, epochs=args.epochs)
        export(model, args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    figures = score(args.out, n_train=args.n_train, epochs=args.epochs)
    if args.out == MODEL_PATH:
        FIGURES_PATH.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {FIGURES_PATH}")
        for readme in README_PATHS:
            readme.write_text(with_figures(readme.read_text(), figures))
            print(f"updated the figures in {readme}")
    print(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
