"""Shared by the side-by-side benchmarks against peer tools: one fresh process per tool and repetition, the tools
interleaved, and the table of medians, spread, CPU, peak memory and ratios (private helper of benchmarks/)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: Code defining ``peak_mb()`` for a runner: this process's peak resident memory. Linux's ``VmHWM`` belongs to
#: the process image itself; ``ru_maxrss`` would also count the parent's size at the fork before ``exec``.
PEAK_MB = """
def peak_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def check_tools(ap: argparse.ArgumentParser, tools: Sequence[str], known: Iterable[str]) -> None:
    """A usage error (exit 2) naming the first of ``tools`` not among ``known``, and the choices."""
    known = list(known)
    unknown = [t for t in tools if t not in known]
    if unknown:
        ap.error(f"unknown tool {unknown[0]!r}; choose from {', '.join(known)}")


def run_fresh(code: str, args: Sequence[str], name: str, timeout: float) -> dict[str, Any] | None:
    """Run ``code`` in a fresh interpreter with ``args``; its last stdout line is a JSON record (``None`` and a
    line saying why when it failed)."""
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {name}: over {timeout:.0f} s, stopped")
        return None
    if out.returncode != 0:
        print(f"  {name}: not run ({(out.stderr.strip().splitlines() or ['?'])[-1]})")
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def interleaved(tools: Sequence[str], repeat: int, one: Callable[[str], dict[str, Any] | None]
                ) -> dict[str, list[dict[str, Any]]]:
    """``repeat`` rounds of every tool, the order alternating between rounds; the successful runs per tool."""
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    for i in range(repeat):
        for name in tools if i % 2 == 0 else tools[::-1]:
            r = one(name)
            if r is not None:
                runs[name].append(r)
    return runs


def print_table(title: str, runs: dict[str, list[dict[str, Any]]], agree: Callable[[Any, Any], str],
                key: str) -> None:
    """Medians (and min-max) of ``seconds``, CPU, peak MB, each tool's time over annokit's, and whether its
    ``key`` numbers agree with annokit's."""
    print(f"{title}; {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}")
    print(f"{'tool':12s} {'median s':>9s} {'min-max s':>13s} {'cpu s':>7s} {'peak MB':>8s} {'vs annokit':>11s}  agree")
    base = runs.get("annokit") or []
    base_t = statistics.median(r["seconds"] for r in base) if base else float("nan")
    for name, rs in runs.items():
        if not rs:
            continue
        sec = [r["seconds"] for r in rs]
        med = statistics.median(sec)
        same = agree(base[0][key], rs[0][key]) if base and name != "annokit" else ""
        print(f"{name:12s} {med:9.2f} {min(sec):6.2f}-{max(sec):<6.2f} {statistics.median(r['cpu'] for r in rs):7.2f}"
              f" {max(r['peak_mb'] for r in rs):8.1f} {med / base_t:10.2f}x  {same}")
    print("(vs annokit: a tool's median time over annokit's; above 1, annokit is that many times faster)")
