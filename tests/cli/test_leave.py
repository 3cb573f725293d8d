"""The ``annokit`` script's exit (annokit.cli._common.leave): after the command returns, the exit handlers run, the
standard streams are flushed and the exit status is the command's, without the interpreter's teardown; a caller
that passes ``argv`` to ``main`` gets ``SystemExit`` as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

GT, PRED = ROOT / "sample_data" / "scenes" / "gt.json", ROOT / "sample_data" / "scenes" / "pred.json"


def _script(args: list[str], before: str = "") -> subprocess.CompletedProcess[str]:
    """``main()`` as the console script calls it (no ``argv``: ``sys.argv``)."""
    code = f"""
import atexit, sys
{before}
sys.argv = ["annokit", *{args!r}]
from annokit.cli import main
main()
print("NOT REACHED")
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_script_flushes_its_output_and_runs_the_exit_handlers(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    res = _script(["eval", "--gt", str(GT), "--pred", str(PRED), "--json", str(out)],
                  before='atexit.register(lambda: print("EXIT HANDLER"))\nsys.stdout.write("buffered ")')
    assert res.returncode == 0, res.stderr
    assert "NOT REACHED" not in res.stdout
    assert res.stdout.startswith("buffered ") and "Average Precision" in res.stdout  # nothing lost in the buffer
    assert res.stdout.rstrip().endswith("EXIT HANDLER")
    assert json.loads(out.read_text())["metrics"]["AP"] is not None


def test_the_script_waits_for_threads_that_are_not_daemons() -> None:
    before = """import threading, time
def late():
    time.sleep(0.5)
    print("THREAD DONE", flush=True)
threading.Thread(target=late).start()"""
    res = _script(["--version"], before=before)
    assert res.returncode == 0, res.stderr
    assert "THREAD DONE" in res.stdout


def test_the_script_keeps_the_command_s_exit_status_and_json_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "gt.json"
    bad.write_text("{not json")
    res = _script(["eval", "--gt", str(bad), "--pred", str(PRED)])
    assert res.returncode == 2 and res.stderr.startswith("annokit: error: ") and res.stderr.count("\n") == 1
    res = _script(["eval", "--gt", str(GT), "--pred", str(PRED), "--json", "-"])
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["metrics"]["AP"] is not None  # complete: flushed before the process ended


def test_a_closed_stdout_ends_as_an_ordinary_exit() -> None:
    """A reader that went away (a closed pipe): flushing fails, and the usual exit path reports it."""
    code = f"""
import sys
sys.argv = ["annokit", "eval", "--gt", {str(GT)!r}, "--pred", {str(PRED)!r}]
from annokit.cli import main
main()
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": ""})
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0  # not reported as a success
    assert b"Traceback" not in err or b"BrokenPipeError" in err


def test_main_with_argv_raises_system_exit() -> None:
    from annokit.cli import main

    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    else:  # pragma: no cover
        raise AssertionError("main(argv) returned without SystemExit")
