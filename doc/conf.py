"""Sphinx configuration of the skexplain_ad documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

The package is not installed for the build: the repository root goes on
``sys.path``. Nothing is fetched at build time (no intersphinx mapping;
MathJax is loaded by the reader's browser). The gallery script
``examples/plot_digits_explain.py`` is run once at build start, only when its
figure in ``doc/generated/`` is missing or older than the script; delete
``doc/generated/`` to redraw it after a change to the package.
"""

import os
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent
ROOT = DOC.parent
sys.path.insert(0, os.path.abspath(".."))  # Sphinx runs conf.py from doc/

import skexplain_ad  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skexplain_ad"
author = "the skexplain_ad developers"
copyright = "the skexplain_ad developers"
version = release = skexplain_ad.__version__

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"  # `x` renders as code, never as an unresolved reference

# autosummary writes one stub page per public name into doc/generated/
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "alphabetical"}
autodoc_typehints = "none"  # types live in the numpydoc Parameters sections

# numpydoc: methods are rendered by the autoclass template, not as a table
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Every public function and class carries an Examples section (EX01) and a
# docstring (GL08); methods are documented but not required to have examples.
numpydoc_validation_checks = {"EX01", "GL08"}
numpydoc_validation_exclude = {
    r"\.[A-Z]\w*\.\w+$",  # Class.method
    r"\.[A-Z][A-Z0-9_]*$",  # CONSTANTS (documented by a #: comment)
}

# -- HTML --------------------------------------------------------------------
html_theme = "alabaster"
html_theme_options = {
    "description": "Explainable anomaly detectors for scikit-learn",
    "fixed_sidebar": True,
}
html_static_path = []
html_title = f"skexplain_ad {release}"

# -- The gallery script ------------------------------------------------------
EXAMPLE = ROOT / "examples" / "plot_digits_explain.py"
GENERATED = DOC / "generated"
FIGURE = GENERATED / "digits_explain.png"
OUTPUT = GENERATED / "plot_digits_explain.txt"


def run_example(app):
    """Run the digits example if its figure is missing or stale."""
    if FIGURE.exists() and OUTPUT.exists() and FIGURE.stat().st_mtime >= EXAMPLE.stat().st_mtime:
        return
    GENERATED.mkdir(exist_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), FIGURE.name],
        cwd=GENERATED, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{EXAMPLE.name} failed:\n{proc.stdout}\n{proc.stderr}")
    OUTPUT.write_text(proc.stdout)


def skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave members inherited from scikit-learn to its own documentation."""
    module = getattr(getattr(obj, "fget", obj), "__module__", None) or ""
    if what == "class" and module.split(".")[0] == "sklearn":
        return True
    return None


def write_glossary(app):
    """The glossary of results.csv, from the one table the audit itself uses."""
    from skexplain_ad._audit import GLOSSARY

    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 18 42 14 10 16", "",
             "   * - column", "     - what it measures", "     - range", "     - better",
             "     - source"]
    for name, (what, rng, better, src) in GLOSSARY.items():
        lines += [f"   * - ``{name}``", f"     - {what}", f"     - {rng}", f"     - {better}",
                  f"     - {src}"]
    GENERATED.mkdir(exist_ok=True)
    (GENERATED / "glossary.inc").write_text("\n".join(lines) + "\n")


def setup(app):
    app.connect("builder-inited", write_glossary)
    app.connect("builder-inited", run_example)
    app.connect("autodoc-skip-member", skip_sklearn_members)
