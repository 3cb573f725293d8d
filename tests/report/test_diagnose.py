"""``annokit diagnose``: the folder it writes (JSON equal to the library's ranking, a self-contained page with the
top entries drawn), its CLI conventions, and the page in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _data import write_small_dataset  # type: ignore[import-not-found]

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.cli.diagnose import EPILOG
from tests.conftest import SAMPLE, run_cli_in, sample_examples


@pytest.fixture(scope="module")
def sample_diag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first example of ``annokit diagnose --help``, run on sample_data."""
    if not (SAMPLE / "scenes" / "pred.json").exists():
        pytest.skip(f"{SAMPLE / 'scenes'} is absent (sample data not generated in this checkout)")
    argv = sample_examples(EPILOG)[0]
    cwd = tmp_path_factory.mktemp("diag")
    res = run_cli_in(cwd, argv)
    assert res.exit_code == 0 and res.exception is None, (res.stderr, res.exception)
    assert "wrote " in res.stdout and "missing: " in res.stdout
    return cwd / argv[argv.index("--out") + 1]


def test_json_is_the_librarys_ranking(sample_diag: Path) -> None:
    import annokit
    from annokit.analysis.label_errors import label_issues
    from annokit.io.coco import read_results

    gt = annokit.load(SAMPLE / "scenes" / "gt.json")
    want = label_issues(gt, read_results(SAMPLE / "scenes" / "pred.json", gt)).to_dict()
    got = json.loads((sample_diag / "label_issues.json").read_text())
    assert got == json.loads(json.dumps(want)) and got["issues"]
    assert {p.name for p in sample_diag.iterdir()} == {"label_issues.json", "label_issues.html"}


def test_page_is_self_contained_with_every_entry_drawn(sample_diag: Path) -> None:
    page = (sample_diag / "label_issues.html").read_text()
    n = len(json.loads((sample_diag / "label_issues.json").read_text())["issues"])
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|file:)""", page)
    assert len(re.findall(r'<div class="issue" id="issue-\d+">', page)) == min(n, 100)
    assert page.count("data:image/jpeg;base64,") == min(n, 100)  # each drawn over its image
    assert 'id="definitions"' in page and 'id="kinds-table"' in page


def test_page_in_headless_chromium(sample_diag: Path) -> None:
    from _browser import Browser  # type: ignore[import-not-found]

    with Browser.start() as b:
        b.open(sample_diag / "label_issues.html")
        sizes = b.eval("[...document.querySelectorAll('.issue svg')].map(s => s.getBoundingClientRect().width)")
        assert sizes and all(w > 200 for w in sizes)


def test_json_dash_top_and_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred, _ = write_small_dataset(tmp_path, n_img=4)
    out = tmp_path / "d"
    assert run_cli(cli, ["diagnose", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--json", "-", "-q",
                         "--top", "1", "--min-score", "0.3"]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    assert data["params"]["min_score"] == 0.3 and not cap.err
    page = (out / "label_issues.html").read_text()
    assert len(re.findall(r'class="issue" id=', page)) == min(1, len(data["issues"]))
    assert run_cli(cli, ["diagnose", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, _, _ = write_small_dataset(tmp_path, n_img=1)
    bad = tmp_path / "p.json"
    bad.write_text('[{"image_id": 1, "category_id": 1, "bbox": [1, 2], "score": 0.5}]')
    assert run_cli(cli, ["diagnose", "--gt", str(gt), "--pred", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("annokit: error:") and "[0].bbox" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
