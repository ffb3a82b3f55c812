"""The prepared device check, on the CPU: the script's dry run and its JSON.

``scripts/device_check.sh`` runs on a CUDA machine through the device tool
(DEVELOPERS.md); here its CPU path runs with tiny sizes
(``DEVICE=cpu SMALL=1``), and ``benchmarks/bench_cuda.py``'s JSON is checked
for its keys and for finite, positive figures. Nothing is installed: the
dry run sets ``INSTALL=0``.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mlxtend")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device_check.sh"
FETCH = ROOT / "scripts" / "fetch_device_wheels.sh"
BENCH = ROOT / "benchmarks" / "bench_cuda.py"


def run_script(out, **env):
    full = dict(os.environ, DEVICE="cpu", SMALL="1", INSTALL="0", OUT=str(out),
                PYTHON=sys.executable)
    full.update(env)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full,
                          cwd=ROOT, timeout=900)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_cuda_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_out")
    return run_script(out), out


def test_scripts_parse():
    for script in (SCRIPT, FETCH):
        res = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_wheel_folder_is_ignored():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert any(line.strip().strip("/") == ".whl" for line in lines)


def test_dry_run_passes_and_writes_its_files(dry_run):
    proc, out = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    assert {"device_check.json", "bench_cuda.json", "bench_cuda.log", "pytest_cuda.log",
            "install.log"} <= names
    # what the device tool brings back: at most 8 plain files, plain names
    assert len(names) <= 8 and all(p.is_file() for p in out.iterdir())
    summary = json.loads((out / "device_check.json").read_text())
    assert summary["passed"] is True and summary["device"] == "cpu"
    stages = {s["stage"]: s for s in summary["stages"]}
    assert set(stages) == {"import", "tests_device", "bench"}  # INSTALL=0: no install
    assert all(s["rc"] == 0 and s["seconds"] >= 0 and not s["timed_out"] for s in stages.values())
    assert summary["bench"] == json.loads((out / "bench_cuda.json").read_text())
    log = (out / "pytest_cuda.log").read_text()
    assert " passed" in log and "failed" not in log


def _positive_finite(value, where):
    assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    assert math.isfinite(value) and value > 0, f"{where} = {value!r}"


def test_bench_json_is_sane(dry_run):
    _, out = dry_run
    res = json.loads((out / "bench_cuda.json").read_text())
    assert res["errors"] == {}
    assert res["meta"]["device"] == "cpu" and res["meta"]["small"] is True
    assert set(res["meta"]["packages"]) >= {"numpy", "scikit-learn", "numba", "zennit", "mlxtend"}
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-10)):
        kde = res["kde"][dtype]
        n, m, d = kde["shape"]
        assert (m, d) == (res["meta"]["sizes"]["kde_templates"], 784)
        assert n == res["meta"]["sizes"]["kde_queries"]
        for key in ("gemm_s", "three_gemms_s", "score_s", "explain_s", "score_over_gemm",
                    "explain_over_three_gemms", "score_over_gemm_plus_transfer",
                    "explain_over_three_gemms_plus_transfer", "explain_over_score",
                    "score_queries_per_s", "explain_queries_per_s", "gemm_tflops"):
            _positive_finite(kde[key], f"kde.{dtype}.{key}")
        assert kde["three_gemms_s"] > kde["gemm_s"]
        assert math.isclose(kde["score_over_gemm"], kde["score_s"] / kde["gemm_s"])
        for acc in (kde["accuracy_score"], kde["accuracy_explain"]):
            assert acc["rtol"] == tol and acc["within_tol"] is True
            assert 0 <= acc["max_rel_err"] < 1e-3
    times = res["times"]
    for key in ("member_explain_s", "global_explain_s", "local_explain_s",
                "global_explain_over_member_explain", "local_explain_over_member_explain",
                "global_score_over_two_member_scores", "global_explain_queries_per_s"):
        _positive_finite(times[key], f"times.{key}")
    assert times["local_pairs"] > 0
    assert times["accuracy_global_explain"]["within_tol"] is True
    assert times["accuracy_local_explain"]["within_tol"] is True
    for name in ("Autoencoder", "DeepOneClass"):
        det = res["detectors"][name]
        for key in ("score_images_per_s", "explain_images_per_s", "explain_over_score"):
            _positive_finite(det[key], f"detectors.{name}.{key}")
        assert det["accuracy_explain_vs_cpu"]["within_tol"] is True
    audit = res["audit"]
    assert audit["returncode"] == 0 and "--device cpu" in audit["command"]
    _positive_finite(audit["wall_s"], "audit.wall_s")
    assert "index.html" in audit["stdout_tail"]
    # every target is judged (True / False), none left unmeasured
    assert len(res["targets"]) == 8
    assert all(isinstance(v, bool) for v in res["targets"].values())
    for key in ("kde_float32_equals_numpy", "kde_float64_equals_numpy", "times_equals_numpy",
                "detectors_equal_cpu"):
        assert res["targets"][key] is True, key


@pytest.mark.parametrize("env, why", [
    ({"PYTHON": "false"}, "every stage fails"),
    ({"TOTAL_S": "0"}, "the time budget is spent"),
])
def test_failed_or_skipped_stages_fail_the_check(tmp_path, env, why):
    proc = run_script(tmp_path, **env)
    assert proc.returncode == 1, why
    summary = json.loads((tmp_path / "device_check.json").read_text())
    assert summary["passed"] is False and summary["bench"] is None
    assert summary["stages"] and all(s["rc"] != 0 for s in summary["stages"])


def test_script_needs_out(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode != 0 and "OUT" in proc.stderr


@pytest.mark.parametrize("argv, match", [
    (["--device", "tpu"], "device='tpu'"),
    (["--device", "cpu", "--skip", "kde,bogus"], r"--skip: unknown section\(s\) \['bogus'\]"),
    (["--device", "cpu", "--audit-timeout", "0"], "--audit-timeout=0"),
    (["--device", "cpu", "--budget", "-1"], "--budget=-1"),
])
def test_bench_rejects_bad_arguments(tmp_path, argv, match):
    bench = load_bench()
    out = tmp_path / "r.json"
    with pytest.raises(ValueError, match=match):
        bench.main([*argv, "--out", str(out)])
    assert not out.exists()  # refused before any work


def test_bench_compare_flags_a_difference():
    bench = load_bench()
    ok = bench.compare([1.0, 2.0 + 1e-12], [1.0, 2.0], 1e-10)
    assert ok["within_tol"] is True and ok["max_abs_err"] > 0
    bad = bench.compare([1.0, 2.001], [1.0, 2.0], 1e-5)
    assert bad["within_tol"] is False
    assert math.isclose(bad["max_rel_err"], 0.0005, rel_tol=1e-6)
    assert math.isclose(bad["max_err_over_max_abs"], 0.0005, rel_tol=1e-6)
