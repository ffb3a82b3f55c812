"""Every gallery script runs and writes its figure where it is told to.

Each ``examples/plot_*.py`` takes the output path as its only argument.
The script runs in a fresh interpreter with an empty temporary folder as
its working directory; the test asks for the figure in another folder, so a
script that ignored the argument (and saved under its default name in the
working directory, or anywhere else it chose) fails. About 45 s for the
four on two cores.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mlxtend")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


def test_every_example_is_collected():
    # the gallery page and this test see the same four scripts
    names = [p.name for p in EXAMPLES]
    assert len(names) >= 4 and "plot_mnist_ensembles.py" in names
    rst = (ROOT / "doc" / "examples.rst").read_text()
    missing = [n for n in names if f"examples/{n}" not in rst]
    assert not missing, f"doc/examples.rst does not show {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_honours_its_output_path(script, tmp_path):
    cwd, outdir = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    outdir.mkdir()
    out = outdir / "figure.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(script), str(out)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in proc.stdout  # the script says where it saved
    assert sorted(p.name for p in outdir.iterdir()) == ["figure.png"]
    assert list(cwd.iterdir()) == []  # nothing written in the working directory
