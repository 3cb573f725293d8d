"""The HTML report: content, self-containment, JSON outputs, CLI, and a real headless-browser check."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _data import write_small_dataset  # type: ignore[import-not-found]

from annokit.cli import cli
from annokit.cli._common import run_cli
from tests.conftest import SampleReport

ROOT = Path(__file__).resolve().parents[2]


def test_files_written(sample_report: SampleReport) -> None:
    assert {p.name for p in sample_report.out.iterdir()} == {"report.html", "report.json", "tags.json"}


def test_html_is_self_contained(sample_report: SampleReport) -> None:
    page = (sample_report.out / "report.html").read_text()
    # no external resources of any kind; figures are inline SVG, the gallery's images JPEG data: URIs inside them
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|file:)""", page)
    assert "<link" not in page and "<script" not in page and "<img" not in page
    hrefs = re.findall(r'<image [^>]*href="([^"]+)"', page)
    assert hrefs and all(h.startswith("data:image/jpeg;base64,") for h in hrefs)
    for t in ("summary-table", "tide-table", "per-class-table", "confusions-table", "tide-mean"):
        assert f'id="{t}"' in page
    # 8 figures (the PR breakdown with the COCO metrics), each made of SVG panels, plus the gallery
    figs = re.findall(r'<figure id="fig-([a-z_]+)">(.*?)</figure>', page, flags=re.S)
    assert len(figs) == 8 and all("<svg " in body for _, body in figs)
    n_gal = len(re.findall(r'<figure class="gallery-item"><svg ', page))
    assert 1 <= n_gal <= 12 and len(hrefs) == n_gal  # every worst image drawn over its own picture


def test_json_matches_page(sample_report: SampleReport) -> None:
    data = json.loads((sample_report.out / "report.json").read_text())
    page = (sample_report.out / "report.html").read_text()
    gt = json.loads((ROOT / "sample_data" / "scenes" / "gt.json").read_text())
    assert data["counts"]["images"] == len(gt["images"])
    assert set(data["tide"]["main_dap"]) == {"Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"}
    assert data["tide"]["iou_type"] == "bbox"
    for row in data["per_class"]:
        assert f'<td class="name">{row["name"]}</td>' in page
    figs = data["figures"]
    assert len(figs["pr_curves"]["recall"]) == 101
    assert figs["pr_curves"]["precision"]["all classes"][0] <= 1.0
    k = len(gt["categories"])
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    for r, c, n in figs["detection_confusion"]["cells"]:
        cm[r, c] = n
    assert cm.shape == (k + 1, k + 1) and figs["detection_confusion"]["labels"][-1] == "background"
    assert figs["detection_confusion"]["score_threshold"] == data["best_f1_threshold"]["threshold"]
    # every ground-truth object is either found (a TP on the diagonal) or missed (background column)
    assert np.trace(cm[:k, :k]) + cm[:k, k].sum() == data["counts"]["ground_truth"]
    assert np.trace(cm[:k, :k]) == sum(row["tp"] for row in data["per_class"])
    assert sum(figs["reliability"]["count"]) == sum(1 for t in json.loads((sample_report.out / "tags.json").read_text())
                                                    if t["kind"] == "pred" and t["status"] in ("TP", "FP"))
    assert sum(figs["box_sizes"]["counts"]) == data["counts"]["ground_truth"]
    for t, n in data["tide"]["counts"].items():
        assert sum(row["errors"][t] for row in data["per_class"]) == n, t
    assert len(data["worst_images"]) == len(re.findall(r'<figure class="gallery-item"', page))
    per = data["per_image"]
    bad = np.array(per["fp"]) + np.array(per["fn"])
    worst_bad = [bad[per["image_ids"].index(i)] for i in data["worst_images"]]
    assert worst_bad == sorted(worst_bad, reverse=True)
    assert min(worst_bad) >= max([b for i, b in zip(per["image_ids"], bad) if i not in data["worst_images"]],
                                 default=0)
    assert set(data["timings_s"]) >= {"coco", "tide", "breakdown", "tables", "figures", "gallery", "tags"}
    # the top confusions are the off-diagonal class cells of the matrix at the threshold, most frequent first
    names = figs["detection_confusion"]["labels"]
    off = sorted(((int(cm[i, j]), names[i], names[j]) for i in range(k) for j in range(k) if i != j and cm[i, j]),
                 reverse=True)
    assert [c["count"] for c in data["confusions"] if c["count"]] == [n for n, _, _ in off]
    assert {(c["true"], c["predicted"]) for c in data["confusions"] if c["count"]} == {(a, b) for _, a, b in off}


def test_tags_json(sample_report: SampleReport) -> None:
    tags = json.loads((sample_report.out / "tags.json").read_text())
    gt = json.loads((ROOT / "sample_data" / "scenes" / "gt.json").read_text())
    pred = json.loads((ROOT / "sample_data" / "scenes" / "pred.json").read_text())
    assert sum(t["kind"] == "gt" for t in tags) == len(gt["annotations"])
    assert sum(t["kind"] == "pred" for t in tags) == len(pred)
    by = {(t["kind"], t["row"]): t for t in tags}
    for t in tags:
        assert t["status"] in {"TP", "FP", "FN", "crowd", "ignored", "unevaluated"}
        if t["kind"] == "pred" and t["status"] == "TP":
            g = by[("gt", t["matched_row"])]
            assert g["status"] == "TP" and g["matched_row"] == t["row"] and t["iou"] >= 0.5


def test_report_in_headless_chromium(sample_report: SampleReport, tmp_path: Path) -> None:
    """The page renders in a real browser: the tables and every figure and gallery drawing laid out at a visible
    size, every embedded picture decoded, and a screenshot full of colour."""
    from _browser import Browser  # type: ignore[import-not-found]

    with Browser.start(1400, 2000) as b:
        b.open(sample_report.out / "report.html")
        assert b.eval("[...document.querySelectorAll('table')].map(t => t.id)") == [
            "summary-table", "tide-table", "confusions-table", "per-class-table"]
        sizes = b.eval("[...document.querySelectorAll('figure > svg, figure .panel > svg')]"
                       ".map(s => {const r = s.getBoundingClientRect(); return [r.width, r.height];})")
        assert len(sizes) >= 8 + 12 and all(w >= 150 and h >= 100 for w, h in sizes), sizes
        decoded = b.eval("Promise.all([...document.querySelectorAll('image')].map(im => new Promise(ok => {"
                         "const i = new Image(); i.onload = () => ok(i.naturalWidth); i.onerror = () => ok(0);"
                         "i.src = im.getAttribute('href');})))")
        assert decoded and all(w > 0 for w in decoded)
        shot = tmp_path / "shot.png"
        b.screenshot(shot, full_page=True)
    from PIL import Image

    arr = np.asarray(Image.open(shot).convert("RGB"))
    assert arr.shape[0] > 3000
    gallery = arr[-1500:].reshape(-1, 3)
    assert len(np.unique(gallery[::7], axis=0)) > 200  # the pictures are there
    assert (arr.reshape(-1, 3).min(axis=1) < 200).mean() > 0.05  # substantially non-white


def _small_report_data(tmp_path: Path, **kw: object) -> tuple:
    from annokit.io.coco import read_instances, read_results
    from annokit.report import analyse

    gt_path, pred_path, images = write_small_dataset(tmp_path, n_img=2)
    d = json.loads(gt_path.read_text())
    d["categories"][0]["name"] = "<script>alert(1)</script>"
    gt_path.write_text(json.dumps(d))
    gt = read_instances(gt_path)
    dt = read_results(pred_path, gt)
    return gt, dt, analyse(gt, dt, worst_n=1, title="a & b <i>", with_coco=False), images


def test_page_escapes_names_and_titles(tmp_path: Path) -> None:
    """Category names and the title are escaped (jinja2 autoescape: turned off, this test fails)."""
    from annokit.report._page import render_page

    _, _, data, _ = _small_report_data(tmp_path)
    page = render_page(data, [], [])
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>a &amp; b &lt;i&gt;</title>" in page
    assert 'id="per-class-table"' in page and "COCO metrics not computed" in page


def test_write_report_keeps_its_argument_and_refuses_an_existing_folder(tmp_path: Path) -> None:
    """write_report leaves ``data`` unchanged, makes a folder with a plain mkdir's mode and refuses an existing
    folder without ``overwrite``, before any drawing (the replacement with --overwrite: the terminal test)."""
    import os

    from annokit.errors import FormatError
    from annokit.report import write_report

    gt, dt, data, images = _small_report_data(tmp_path)
    out = tmp_path / "rep"
    write_report(gt, dt, data, out, image_root=images, with_tags=False)
    assert {p.name for p in out.iterdir()} == {"report.html", "report.json"}
    assert data.figure_data == {} and "figures" not in data.timings  # the argument is not changed
    assert "figures" in json.loads((out / "report.json").read_text())["timings_s"]
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask
    (out / "stale.txt").write_text("old")
    with pytest.raises(FormatError, match="exists"):
        write_report(gt, dt, data, out, with_tags=False)
    assert (out / "stale.txt").exists()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "gt.json"
    bad.write_text("{not json")
    pred = tmp_path / "p.json"
    pred.write_text("[]")
    rc = run_cli(cli, ["report", "--gt", str(bad), "--pred", str(pred), "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("annokit: error:") and "Traceback" not in err


def test_report_refuses_an_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred, _ = write_small_dataset(tmp_path, n_img=1)
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc = run_cli(cli, ["report", "--gt", str(gt), "--pred", str(pred), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "exists (pass --overwrite to replace it)" in err and (out / "keep.txt").exists()


def test_no_progress_bar_off_a_terminal(sample_report: SampleReport) -> None:
    assert "annokit report" not in sample_report.stderr and "%" not in sample_report.stderr


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a real pseudo-terminal the report draws a progress bar on stderr that ends at 100 %; --overwrite replaces
    the existing folder whole."""
    import os
    import sys
    import threading

    gt, pred, _ = write_small_dataset(tmp_path, n_img=1)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "stale.txt").write_text("old")
    args = ["report", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "o"), "--worst", "0",
            "--overwrite"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                return
            if not b:
                return
            chunks.append(b)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    p = subprocess.run([sys.executable, "-m", "annokit", *args], stderr=slave, stdout=subprocess.PIPE, env=env,
                       timeout=120)
    os.close(slave)
    t.join(timeout=10)
    os.close(master)
    assert p.returncode == 0
    tty_err = b"".join(chunks).decode(errors="replace")
    assert "annokit report" in tty_err and "100%" in tty_err
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"report.html", "report.json"}  # replaced whole
