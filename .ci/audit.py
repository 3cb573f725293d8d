"""House rules that ruff, mypy and import-linter do not check (issue 15): no function over 80 lines in annokit/
unless its docstring says why ("long because ..."), and no import of a private name (``_x``) from another top-level
package of annokit (``annokit._internal`` is the shared private package and may be imported anywhere).

    python .ci/audit.py [annokit]      # exit 1 and one line per finding
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES = 80


def _package(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def _long_functions(tree: ast.AST, path: Path) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_LINES and "long because" not in (ast.get_docstring(node) or "").lower():
                out.append(f"{path}:{node.lineno}: {node.name} is {n} lines (over {MAX_LINES}, no docstring "
                           "saying why)")
    return out


def _private_imports(tree: ast.AST, path: Path, pkg: str) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("annokit.")):
            continue
        parts = node.module.split(".")
        target = parts[1]
        if target in (pkg, "_internal"):
            continue
        for alias in node.names:
            names = [*parts[2:], alias.name]
            if any(p.startswith("_") and not p.startswith("__") for p in names):
                out.append(f"{path}:{node.lineno}: imports the private {node.module}.{alias.name} from another "
                           "package")
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "annokit")
    findings = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        findings += _long_functions(tree, path) + _private_imports(tree, path, _package(path, root))
    print("\n".join(findings) or f"{root}: no function over {MAX_LINES} lines, no private import across packages")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
