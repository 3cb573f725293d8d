"""The Python examples of docs/compat.md run as written, from the repository root, and print what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "compat.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_examples_run_as_written() -> None:
    blocks = _blocks()
    assert len(blocks) == 2
    # one fresh process, the blocks in page order (the second switches pycocotools for the rest of the process)
    out = subprocess.run([sys.executable, "-c", "\n".join(blocks) + "\nprint('END')"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "bbox 0.5315 (10, 101, 3, 4, 3)" in out and "segm 0.5033 (10, 101, 3, 4, 3)" in out
    second = out[out.index("segm 0.5033"):]
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.531" in second
    assert out.rstrip().endswith("END")
