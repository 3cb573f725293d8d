"""annokit._internal.gc: the collector paused around work, and frozen over what the ``annokit`` command imported
(in the command's own process only)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from annokit._internal.gc import freeze_imports, importing, no_gc
from tests.conftest import ROOT


def test_no_gc_and_importing_restore_the_collector_s_state() -> None:
    assert gc.isenabled()
    with no_gc():
        assert not gc.isenabled()
    with importing():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with importing():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_outside_the_command_s_process_nothing_is_frozen(monkeypatch) -> None:
    import annokit._internal.gc as agc

    monkeypatch.setattr(agc, "_COMMAND_PROCESS", False)  # an earlier test may have run annokit.cli.main here
    before = gc.get_freeze_count()
    freeze_imports()
    with importing():
        import annokit.cli  # noqa: F401
    assert gc.get_freeze_count() == before


def test_the_command_freezes_what_it_imported_and_the_collector_skips_its_imports() -> None:
    """``annokit eval`` through ``main`` (the script's entry point): the collector does not run while the command
    imports numpy, the readers and the engine (about 30 collections before), and the numbers are printed."""
    gt, pred = ROOT / "sample_data" / "scenes" / "gt.json", ROOT / "sample_data" / "scenes" / "pred.json"
    code = f"""
import gc, json, sys
from annokit.cli import main
runs = []
gc.callbacks.append(lambda phase, info: runs.append(info["generation"]) if phase == "start" else None)
try:
    main(["eval", "--gt", {str(gt)!r}, "--pred", {str(pred)!r}, "--iou-type", "bbox"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
info = {{"collections": len(runs), "frozen": gc.get_freeze_count(), "numpy": "numpy" in sys.modules}}
print("RESULT" + json.dumps(info))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    out, found = res.stdout.rsplit("RESULT", 1)
    assert " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.531" in out
    info = json.loads(found)
    assert info["numpy"] and info["frozen"] > 10_000
    assert info["collections"] <= 3, info
