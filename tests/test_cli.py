"""The ``skexplain-ad`` command: one-line errors before any work, a compact summary."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skexplain_ad._audit import _run as run_module
from skexplain_ad.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "skexplain_ad.cli", *args],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["audit", "--dataset", "cifar"], "unknown data set 'cifar'"),
        (["audit", "--detectors", "KDE,SVM"], "--detectors: unknown \\['SVM'\\]"),
        (["audit", "--n-samples", "0"], "--n-samples: must be an integer >= 1, got '0'"),
        (["audit", "--n-samples", "many"], "--n-samples: must be an integer >= 1, got 'many'"),
        (["audit", "--n-jobs", "0"], "--n-jobs: must be a non-zero integer .*got '0'"),
        (["audit", "--n-jobs", "two"], "--n-jobs: must be a non-zero integer .*got 'two'"),
        (["audit", "--protocol", "quick"], "--protocol: invalid choice: 'quick'"),
        (["audit", "--dataset", "mnist-c", "extra"], "give 'mvtec PATH'"),
        (["audit", "--dataset", "csv"], "'csv PATH' for a CSV table"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line(args, pattern):
    res = run_cli(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), res.stderr


@pytest.fixture
def no_work(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("data were loaded before the arguments were checked")

    monkeypatch.setattr(run_module, "load_audit_dataset", boom)


def _cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--backend", "cuda"], r"backend='cuda' is not a backend \(a device, not a backend"),
        (["--backend", "tensorflow"], "backend='tensorflow' is not a backend"),
        (["--device", "gpu"], "device='gpu' is not a device"),
        (["--detectors", "Deep"], "Deep reads 28 x 28 images only"),
        (["--explainers", "lime"], r"Unknown explainer\(s\) \['lime'\]"),
        (["--corruptions", "stripes"], r"Unknown anomaly type\(s\) \['stripes'\]"),
    ],
)
def test_errors_before_any_work(no_work, capsys, extra, pattern):
    code = main(["audit", "--dataset", "digits-c", "--quiet", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("skexplain-ad: error: ") and re.search(pattern, err[0])


@pytest.mark.skipif(_cuda(), reason="this machine has a CUDA device")
def test_cuda_without_gpu_before_any_work(no_work, capsys):
    assert main(["audit", "--dataset", "digits-c", "--device", "cuda", "--quiet"]) == 1
    assert "device='cuda': this machine has no CUDA device" in capsys.readouterr().err


def test_unwritable_out_before_any_work(no_work, capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    assert main(["audit", "--dataset", "digits-c", "--out", str(tmp_path / "f" / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a writable folder" in err[0]


def test_unreadable_dataset_path(tmp_path):
    res = run_cli("audit", "--dataset", "mvtec", str(tmp_path / "nowhere"), "--quiet")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "nowhere" in res.stderr
    (tmp_path / "flat").mkdir()
    res = run_cli("audit", "--dataset", "mvtec", str(tmp_path / "flat"), "--quiet",
                  "--detectors", "KDE")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1


def test_notes_for_what_cannot_run(no_work, monkeypatch, capsys):
    from skexplain_ad._audit import _registry

    real = _registry.missing_requirements

    def fake(modules):
        out = real([m for m in modules if m != "torch"])
        if "torch" in modules:
            out["torch"] = "ModuleNotFoundError: No module named 'torch'"
        return out

    monkeypatch.setattr(_registry, "missing_requirements", fake)
    with pytest.raises(AssertionError, match="data were loaded"):
        main(["audit", "--quiet"])
    notes = capsys.readouterr().err.strip().splitlines()
    shap = [n for n in notes if n.split()[2] == "kernel-shap"]
    notes = [n for n in notes if n not in shap]
    assert {n.split()[2] for n in notes} == {"Auto", "Deep", "Bag"}
    assert all(n.startswith("skexplain-ad: note: ") and "pip install 'skexplain_ad[torch]'" in n
               for n in notes)
    # the fast protocol leaves KernelSHAP to --protocol paper, and says why
    assert len(shap) == 1 and "--protocol paper" in shap[0] and ">= 5 rows" in shap[0]


def test_writes_report_and_prints_a_compact_summary(tmp_path, capsys):
    code = main(["audit", "--dataset", "digits-c", "--detectors", "KDE,C1+C2", "--corruptions",
                 "stripe,fog", "--explainers", "lrp,random,distance-to-mean", "--n-samples", "6",
                 "--out", str(tmp_path / "r")])
    assert code == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert max(map(len, lines)) <= 100
    assert any("KDE" in line for line in lines) and any("C1+C2" in line for line in lines)
    assert any("index.html" in line for line in lines)
    assert any(line.startswith("wall time") for line in lines)
    assert "audit" in captured.err  # the progress bar
    payload = json.loads((tmp_path / "r" / "results.json").read_text())
    assert set(payload["timings"]["detectors"]) == {"KDE", "C1+C2"}


def test_tabular_dataset_from_csv(tmp_path, capsys):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.drop(columns="target")
    frame.to_csv(tmp_path / "t.csv", index=False)
    code = main(["audit", "--dataset", "csv", str(tmp_path / "t.csv"), "--detectors", "KDE",
                 "--explainers", "lrp", "--n-samples", "10", "--quiet", "--out", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    payload = json.loads((tmp_path / "r" / "results.json").read_text())
    assert payload["feature_names"] == list(frame.columns)
