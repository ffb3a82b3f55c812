"""The ``skexplain-ad`` command.

``skexplain-ad audit`` runs the Clever Hans audit (:func:`skexplain_ad.audit`)
and prints its table; see ``skexplain-ad audit --help``.
"""

import argparse
import contextlib
import sys

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"skexplain-ad: error: {message}\n")
        sys.exit(2)


def _list(text):
    return [t for t in (s.strip() for s in text.split(",")) if t]


def _build_parser():
    from . import __version__
    from ._audit_detectors import DETECTOR_NAMES
    from ._audit import DATASETS

    p = _Parser(prog="skexplain-ad", description="Explainable anomaly detection: the Clever Hans audit.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser(
        "audit",
        help="run the Clever Hans audit and write a report",
        description="Fit every detector on clean data, score and explain each anomaly type, "
        "and rank detectors by their Clever Hans score (ROC - cosine).",
    )
    a.add_argument("--dataset", nargs="+", default=["mnist-c"], metavar="NAME [PATH]",
                   help=f"one of {', '.join(DATASETS)}; 'mvtec PATH' reads an MVTec AD folder "
                   "(default: mnist-c)")
    a.add_argument("--category", default=None, help="MVTec AD category under PATH")
    a.add_argument("--detectors", type=_list, default=None,
                   help=f"comma-separated, from {', '.join(DETECTOR_NAMES)} (default: all installed)")
    a.add_argument("--corruptions", type=_list, default=None,
                   help="comma-separated corruptions / defects (default: all)")
    a.add_argument("--n-samples", type=int, default=100, help="outliers per anomaly type (default: 100)")
    a.add_argument("--out", default="skexplain_ad_report", help="report folder (default: ./skexplain_ad_report)")
    a.add_argument("--backend", default="auto", help="auto, numpy, numba or torch")
    a.add_argument("--device", default=None, help="torch device, e.g. cuda")
    a.add_argument("--n-jobs", type=int, default=None, help="threads for scoring and explaining")
    a.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    a.add_argument("--quiet", action="store_true", help="print the table only, no progress bar")
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
    ...                  "--corruptions", "stripe", "--n-samples", "5", "--quiet",
    ...                  "--out", tempfile.mkdtemp()])
    >>> code, "clever_hans_difference" in buf.getvalue()
    (0, True)
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    from ._audit_detectors import DETECTOR_NAMES
    from ._audit import DATASETS, audit

    name, *rest = args.dataset
    if name not in DATASETS:
        parser.error(f"--dataset: unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if (name == "mvtec") != bool(rest) or len(rest) > 1:
        parser.error("--dataset: give 'mvtec PATH' for MVTec AD, and no path for the others")
    if args.detectors is not None:
        bad = [d for d in args.detectors if d not in DETECTOR_NAMES]
        if bad or not args.detectors:
            parser.error(f"--detectors: unknown {bad}; choose from {', '.join(DETECTOR_NAMES)}")
    if args.n_samples < 1:
        parser.error(f"--n-samples must be >= 1, got {args.n_samples}")
    if args.dask_local is not None and args.dask_local < 1:
        parser.error(f"--dask-local must be >= 1, got {args.dask_local}")
    try:
        with _dask_client(args) as client:
            table = _audit_table(audit, name, rest, args, client)
    except (ValueError, FileNotFoundError, NotADirectoryError, ImportError, OSError, TimeoutError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"skexplain-ad: error: {msg}\n")
        return 1
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    if not args.quiet:
        print(f"\nreport: {table.attrs['report']}/index.html")
    return 0


def _audit_table(audit, name, rest, args, client):
    return audit(
        name, path=rest[0] if rest else None, category=args.category,
        detectors=args.detectors, anomalies=args.corruptions, n_samples=args.n_samples,
        out=args.out, backend=args.backend, device=args.device, n_jobs=args.n_jobs,
        seed=args.seed, progress=not args.quiet, client=client,
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
