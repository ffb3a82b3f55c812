"""The ``skexplain-ad`` command.

``skexplain-ad audit`` runs the Clever Hans audit (:func:`skexplain_ad.audit`)
and prints a compact summary (the full table is in the report's
``results.csv`` and ``results.json``); see ``skexplain-ad audit --help``.
"""

import argparse
import contextlib
import sys
import textwrap
import warnings

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"skexplain-ad: error: {message}\n")
        sys.exit(2)


def _list(text):
    return [t for t in (s.strip() for s in text.split(",")) if t]


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value == 0:
        raise argparse.ArgumentTypeError(
            f"must be a non-zero integer (-1 = every core), got {text!r}")
    return value


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _build_parser():
    from . import __version__
    from ._audit import DATASETS, DETECTOR_NAMES, EXPLAINERS, PROTOCOLS

    p = _Parser(prog="skexplain-ad", description="Explainable anomaly detection: the Clever Hans audit.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser(
        "audit",
        help="run the Clever Hans audit and write a report",
        description="Fit every detector on clean data, score and explain each anomaly type with "
        "LRP and baseline explainers, and rank detectors by their Clever Hans score "
        "(ROC - cosine). Every argument is checked before any work.",
    )
    a.add_argument("--dataset", nargs="+", default=["mnist-c"], metavar="NAME [PATH]",
                   help=f"one of {', '.join(DATASETS)}; 'mvtec PATH' reads an MVTec AD folder, "
                   "'csv PATH' a CSV table (default: mnist-c)")
    a.add_argument("--category", default=None, help="MVTec AD category under PATH")
    a.add_argument("--label-column", default=None, metavar="COLUMN",
                   help="csv: the column of labels, +1 inlier / -1 outlier; its outliers are "
                   "audited as they are (default: anomalies are injected)")
    a.add_argument("--image-size", type=_positive, default=None, metavar="N",
                   help="mvtec: resize the images to N x N (the thesis: 160; default: as the "
                   "files are, size and colour); textures: the colour photograph at N x N")
    a.add_argument("--drop", type=_list, default=None, metavar="COLUMNS",
                   help="csv: comma-separated columns to leave out (identifiers, other targets)")
    a.add_argument("--detectors", type=_list, default=None,
                   help=f"comma-separated, from {', '.join(DETECTOR_NAMES)} (default: all that can run)")
    a.add_argument("--corruptions", "--anomalies", dest="corruptions", type=_list, default=None,
                   help="comma-separated corruptions / defects / table anomalies (default: all)")
    a.add_argument("--explainers", type=_list, default=None,
                   help=f"comma-separated, from {', '.join(EXPLAINERS)} (default: all that can run)")
    a.add_argument("--protocol", choices=list(PROTOCOLS), default="fast",
                   help="fast (default: 2,000 digits, short training) or paper (all 5,000 digits, "
                   "the autoencoder trained to convergence)")
    a.add_argument("--n-samples", type=_positive, default=None,
                   help="outliers per anomaly type (default: the protocol's; 30 for tables)")
    a.add_argument("--n-flip", type=_positive, default=None,
                   help="outliers per anomaly type for pixel flipping and occlusion")
    a.add_argument("--n-occlusion", type=_positive, default=None,
                   help="outliers per anomaly type explained by occlusion")
    a.add_argument("--n-shap", type=int, default=None, help="outliers per detector for KernelSHAP")
    a.add_argument("--out", default="skexplain_ad_report",
                   help="report folder (default: ./skexplain_ad_report)")
    a.add_argument("--backend", default="auto", help="auto, numpy, numba or torch")
    a.add_argument("--device", default=None, help="cpu, cuda or cuda:N (torch)")
    a.add_argument("--n-jobs", type=_n_jobs, default=None,
                   help="threads for scoring and explaining (-1 = every core)")
    a.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    dask = a.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="score and explain on the Dask scheduler at ADDRESS (needs skexplain_ad[dask])")
    dask.add_argument("--dask-local", type=int, default=None, metavar="N",
                      help="score and explain on a local Dask cluster of N worker processes")
    return p


def main(argv=None):
    """Entry point of ``skexplain-ad``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    code : int
        0 on success, 1 on a data or parameter error, 2 on bad arguments.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from skexplain_ad.cli import main
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stdout(buf):
    ...     code = main(["audit", "--dataset", "digits-c", "--detectors", "KDE",
    ...                  "--explainers", "lrp,random", "--corruptions", "stripe",
    ...                  "--n-samples", "5", "--quiet", "--out", tempfile.mkdtemp()])
    >>> code, "KDE" in buf.getvalue()
    (0, True)
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    from ._audit import DATASETS, DETECTOR_NAMES, AuditWarning, audit

    name, *rest = args.dataset
    if name not in DATASETS:
        parser.error(f"--dataset: unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if (name in ("mvtec", "csv")) != bool(rest) or len(rest) > 1:
        parser.error("--dataset: give 'mvtec PATH' for MVTec AD, 'csv PATH' for a CSV table, "
                     "and no path for the others")
    if args.detectors is not None:
        bad = [d for d in args.detectors if d not in DETECTOR_NAMES]
        if bad or not args.detectors:
            parser.error(f"--detectors: unknown {bad}; choose from {', '.join(DETECTOR_NAMES)}")
    if args.dask_local is not None and args.dask_local < 1:
        parser.error(f"--dask-local must be >= 1, got {args.dask_local}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", AuditWarning)
            warnings.showwarning = _show_note(warnings.showwarning)
            with _dask_client(args) as client:
                table = _audit_table(audit, name, rest, args, client)
    except (ValueError, TypeError, FileNotFoundError, NotADirectoryError, ImportError, OSError,
            TimeoutError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"skexplain-ad: error: {msg}\n")
        return 1
    print(summary_text(table))
    return 0


def _show_note(show):
    """A ``showwarning`` that prints the audit's notes as ``skexplain-ad: note: ...``."""
    from ._audit import AuditWarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, AuditWarning):
            return show(message, category, filename, lineno, file, line)
        first = str(message).splitlines()[0] if str(message) else ""
        sys.stderr.write(f"skexplain-ad: note: {first}\n")

    return showwarning


def summary_text(table, width=100):
    """What the command prints: the report's terminal summary and the time taken.

    Parameters
    ----------
    table : pandas.DataFrame
        The audit table (:func:`skexplain_ad.audit`).
    width : int, default=100
        Largest line length.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad.cli import summary_text
    >>> t = pd.DataFrame({"dataset": "wine", "anomaly": ["swap"], "detector": ["KDE"],
    ...                   "explainer": ["lrp"], "roc_auc": [0.9], "cosine": [0.5],
    ...                   "clever_hans_difference": [0.4], "n_inliers": 40, "n_outliers": 30})
    >>> max(len(line) for line in summary_text(t).splitlines()) <= 100
    True
    """
    from ._audit import format_terminal_summary

    text = format_terminal_summary(table, table.attrs.get("report"), width=width)
    lines = text.splitlines()
    t = table.attrs.get("timings")
    if t:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in t["stages"].items() if v >= 0.05)
        lines += textwrap.wrap(f"wall time {t['wall_seconds']:.1f} s: {parts}", width,
                               subsequent_indent="  ")
    for line in table.attrs.get("skipped", []):
        lines.append(line)  # "NAME left out: why"
    return "\n".join(line if len(line) <= width else line[: width - 3] + "..." for line in lines)


def _audit_table(audit, name, rest, args, client):
    return audit(
        name, path=rest[0] if rest else None, category=args.category,
        detectors=args.detectors, anomalies=args.corruptions, explainers=args.explainers,
        protocol=args.protocol, n_samples=args.n_samples, n_flip=args.n_flip,
        n_occlusion=args.n_occlusion, n_shap=args.n_shap,
        out=args.out, backend=args.backend, device=args.device, n_jobs=args.n_jobs,
        seed=args.seed, progress=not args.quiet, client=client, label_column=args.label_column,
        drop=args.drop, image_size=args.image_size,
    )


@contextlib.contextmanager
def _dask_client(args):
    """A Dask client for --scheduler / --dask-local, or None."""
    if args.scheduler is None and args.dask_local is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("--scheduler and --dask-local need pip install 'skexplain_ad[dask]'") from exc
    if args.scheduler is not None:
        with Client(args.scheduler, timeout=10) as client:
            yield client
    else:
        with LocalCluster(n_workers=args.dask_local, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0") as cluster, Client(cluster) as client:
            yield client


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
