"""The package's layers only point down (pyproject.toml's import-linter
contracts, doc/architecture.rst), with no import circle and no private name
imported across packages."""

import ast
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "skexplain_ad"

pytest.importorskip("importlinter")
grimp = pytest.importorskip("grimp")


def _lint_imports(cwd, pythonpath):
    """``lint-imports`` with the project's contracts, on the package found first on ``pythonpath``."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def test_layers_contract_is_kept():
    res = _lint_imports(ROOT, ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.mark.parametrize("module, line", [
    ("_softmin.py", ""),  # the control: the copy itself keeps the contract
    ("_softmin.py", "from .base import BaseDetector\n"),         # the engine importing the estimators
    ("backends/_numpy.py", "from .._softmin import sq_distances\n"),  # a backend importing the engine
    ("backends/_numpy_times.py", "from ._host_times import HostTimes\n"),  # kernels importing pooling
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, line):
    copy = tmp_path / "skexplain_ad"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "weights"))
    path = copy / module
    src = path.read_text()
    # after the module docstring: the contract reads every import statement
    tree = ast.parse(src)
    end = tree.body[0].end_lineno if isinstance(tree.body[0], ast.Expr) else 0
    lines = src.splitlines(keepends=True)
    path.write_text("".join(lines[:end]) + line + "".join(lines[end:]))
    res = _lint_imports(tmp_path, tmp_path)
    if not line:
        assert res.returncode == 0, res.stdout + res.stderr
        return
    assert res.returncode != 0
    assert "BROKEN" in res.stdout


def test_no_import_circle():
    graph = grimp.build_graph("skexplain_ad")
    adj = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    # Tarjan's strongly connected components, iteratively
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]
    for start in sorted(adj):
        if start in index:
            continue
        work = [(start, iter(sorted(adj[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(adj[nxt]))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
    assert cycles == []


#: (importing module, name): the known exceptions, each to be removed
KNOWN_PRIVATE = {
    # detectors/_torch_utils.py should import TORCH_DTYPES from backends._torch_device
    ("skexplain_ad.detectors._torch_utils", "_TORCH_DTYPES"),
}


def _private_imports():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        mod = ".".join(parts[:-1] if is_pkg else parts)
        pkg = mod if is_pkg else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            if not src.startswith("skexplain_ad"):
                continue
            src_pkg = src if (ROOT.joinpath(*src.split(".")) / "__init__.py").exists() \
                else src.rsplit(".", 1)[0]
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and src_pkg != pkg:
                    found.add((mod, alias.name))
    return found


def test_no_private_name_imported_across_packages():
    assert _private_imports() <= KNOWN_PRIVATE
