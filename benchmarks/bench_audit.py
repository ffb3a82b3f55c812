"""Where the audit's time goes: each stage's seconds and share of the whole.

Runs :func:`skexplain_ad.audit` (the ``skexplain-ad audit`` command's
function) with a protocol and prints, from ``table.attrs["timings"]``
(what results.json holds):

- per stage (data, fit, score, explain, baselines, metrics, flipping,
  report, other): wall seconds, share of the wall time, CPU seconds, and
  CPU / wall (about the number of cores the stage kept busy);
- per detector: its seconds in each of its keys (fit, score, explain, each
  baseline explainer), the largest first;
- the mean detection ROC of each detector over the anomaly types, so that
  a change of speed is read beside what it does to the result (the
  default audit's autoencoder must keep a mean MNIST-C ROC >= 0.845).

Before the run it prints the machine's load and torch's thread count: these
machines are shared, and the same audit took 88-92 s on a quiet 2-core
machine and 616-676 s on a loaded one. Compare runs made on one machine
at one load; read the shares rather than the seconds.

Run from the repository root::

    python benchmarks/bench_audit.py                      # default (fast) protocol
    python benchmarks/bench_audit.py --protocol paper
    python benchmarks/bench_audit.py --detectors KDE,Auto --json timings.json
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stage_table(timings):
    """Lines of the per-stage table."""
    wall = timings["wall_seconds"]
    cpu = timings.get("cpu_stages", {})
    lines = [f"{'stage':<12} {'wall s':>9} {'share':>7} {'cpu s':>9} {'cpu/wall':>9}"]
    for stage, sec in sorted(timings["stages"].items(), key=lambda kv: -kv[1]):
        c = cpu.get(stage, float("nan"))
        ratio = c / sec if sec > 0 else float("nan")
        lines.append(f"{stage:<12} {sec:>9.2f} {100 * sec / wall:>6.1f}% {c:>9.2f} {ratio:>9.2f}")
    lines.append(f"{'total':<12} {wall:>9.2f} {100.0:>6.1f}% {timings.get('cpu_seconds', 0):>9.2f}")
    return lines


def detector_table(timings):
    """Lines of the per-detector table: each key's seconds, largest first."""
    wall = timings["wall_seconds"]
    lines = []
    for name, keys in timings.get("detectors", {}).items():
        secs = {k[: -len("_seconds")]: v for k, v in keys.items()
                if k.endswith("_seconds") and isinstance(v, (int, float))}
        total = sum(secs.values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(secs.items(), key=lambda kv: -kv[1]))
        lines.append(f"{name:<12} {total:>8.2f} s ({100 * total / wall:4.1f}%): {parts}")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", choices=("fast", "paper"), default="fast")
    ap.add_argument("--dataset", default="mnist-c")
    ap.add_argument("--detectors", default=None, help="comma-separated; default: the audit's")
    ap.add_argument("--explainers", default=None, help="comma-separated; default: the audit's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="folder for the report (default: none written)")
    ap.add_argument("--json", default=None, help="write the timings here")
    args = ap.parse_args(argv)

    import numpy as np

    from skexplain_ad import audit

    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        load = (float("nan"),) * 3
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        threads = None
    print(f"protocol {args.protocol}, dataset {args.dataset}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; "
          f"torch threads {threads}")
    kw = {"protocol": args.protocol, "seed": args.seed}
    if args.detectors:
        kw["detectors"] = args.detectors.split(",")
    if args.explainers:
        kw["explainers"] = args.explainers.split(",")
    if args.out:
        kw["out"] = args.out
    t0 = time.perf_counter()
    table = audit(args.dataset, **kw)
    outside = time.perf_counter() - t0
    timings = table.attrs["timings"]
    print(f"\nwall {timings['wall_seconds']:.1f} s inside audit(), {outside:.1f} s around it\n")
    print("\n".join(stage_table(timings)))
    print("\nper detector (seconds in each of its keys):")
    print("\n".join(detector_table(timings)))
    lrp = table[table["explainer"] == "lrp"] if "explainer" in table else table
    if "roc_auc" in lrp:
        print("\nmean detection ROC over the anomaly types:")
        for name, roc in lrp.groupby("detector")["roc_auc"].mean().items():
            print(f"  {name:<12} {roc:.3f}")
        auto = lrp[lrp["detector"] == "Auto"]["roc_auc"]
        if len(auto) and args.dataset == "mnist-c":
            ok = float(np.mean(auto)) >= 0.845
            print(f"Auto's mean MNIST-C ROC >= 0.845: {ok}")
    if args.json:
        Path(args.json).write_text(json.dumps(timings, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
