"""Figures of the Clever Hans audit (matplotlib, the optional extra ``plot``).

Every function builds a :class:`matplotlib.figure.Figure` with its own Agg
canvas (:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`): nothing
goes through ``pyplot``, no backend is selected and no global state changes,
so the functions run headless and inside any application. Importing this
module does not import matplotlib; the first call does.

Colour conventions, the same in every figure:

- relevance: ``seismic``, centred at zero (red = evidence for the anomaly,
  blue = against), each map divided by its own largest absolute value so
  that maps of different detectors share one colorbar;
- ground truth: ``Reds``, divided by its largest value;
- inputs: ``gray`` (colour images as they are).
"""

import numpy as np

__all__ = [
    "RELEVANCE_CMAP",
    "GROUND_TRUTH_CMAP",
    "heatmap",
    "new_figure",
    "plot_explanations",
    "plot_pixel_flipping",
    "plot_top_clever_hans",
    "plot_roc_vs_clever_hans",
    "plot_explainer_comparison",
]

#: Colormap of every relevance map.
RELEVANCE_CMAP = "seismic"
#: Colormap of every ground-truth map.
GROUND_TRUTH_CMAP = "Reds"


def new_figure(figsize=(6.0, 4.0), **kwargs):
    """A matplotlib Figure with its own Agg canvas, outside pyplot.

    Parameters
    ----------
    figsize : tuple of float, default=(6.0, 4.0)
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (e.g. ``layout``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Not registered with pyplot; ``fig.savefig`` writes PNG through Agg.

    Examples
    --------
    >>> from skexplain_ad.plotting import new_figure
    >>> fig = new_figure((2, 2))
    >>> type(fig.canvas).__name__
    'FigureCanvasAgg'
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "skexplain_ad.plotting needs matplotlib: pip install 'skexplain_ad[plot]'."
        ) from exc
    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _is_image(image_shape):
    return image_shape is not None and len(tuple(image_shape)) >= 2


def _as_image(v, image_shape):
    img = np.asarray(v, dtype=np.float64).reshape(image_shape)
    return img.sum(axis=-1) if img.ndim == 3 else img


def _unit(v, *, signed):
    """``v`` divided by its largest (absolute) value; zeros stay zeros."""
    v = np.asarray(v, dtype=np.float64)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    return v / m if m > 0 else v


def heatmap(ax, relevance, image_shape, *, vmax=None, cmap=RELEVANCE_CMAP):
    """Draw one relevance map as a heatmap centred at zero.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    relevance : array-like of shape (n_features,)
        Flattened relevance; colour channels are summed.
    image_shape : tuple
        ``(h, w)`` or ``(h, w, c)``.
    vmax : float, optional
        Colour scale limit (symmetric); the map's absolute maximum when None.
    cmap : str, default="seismic"

    Returns
    -------
    im : matplotlib.image.AxesImage

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import heatmap, new_figure
    >>> ax = new_figure().add_subplot()
    >>> im = heatmap(ax, np.arange(4.0), (2, 2))
    >>> im.get_clim()
    (-3.0, 3.0)
    """
    img = _as_image(relevance, image_shape)
    v = float(np.abs(img).max()) if vmax is None else float(vmax)
    v = v if v > 0 else 1.0
    im = ax.imshow(img, cmap=cmap, vmin=-v, vmax=v, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _check_rows(images, ground_truths, relevances, extra, relevance_name):
    images = np.asarray(images, dtype=np.float64)
    ground_truths = np.asarray(ground_truths, dtype=np.float64)
    maps = {str(relevance_name): np.asarray(relevances, dtype=np.float64)}
    for name, r in (extra or {}).items():
        maps[str(name)] = np.asarray(r, dtype=np.float64)
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty 2-d array (n, n_features); got shape {images.shape}.")
    for name, arr in [("ground_truths", ground_truths), *maps.items()]:
        if arr.shape != images.shape:
            raise ValueError(f"{name} must have the shape of images {images.shape}; got {arr.shape}.")
    return images, ground_truths, maps


def plot_explanations(images, ground_truths, relevances, image_shape, *, title=None,
                      row_labels=None, extra=None, feature_names=None, notes=None,
                      relevance_name="explanation"):
    """Input | ground truth | explanation, one row per example ([P] Fig. 4).

    Each relevance map is divided by its own largest absolute value and drawn
    with the ``seismic`` colormap on [-1, 1]; each ground truth is divided by
    its largest value and drawn with ``Reds`` on [0, 1]; one colorbar per
    colormap says so. Without an image shape (tabular data) each row is a bar
    chart over the features instead.

    Parameters
    ----------
    images, ground_truths, relevances : array-like of shape (n, n_features)
    image_shape : tuple or None
        ``(h, w)`` or ``(h, w, c)`` for images; None or ``(n_features,)`` for
        tabular data (bar charts).
    title : str, optional
    row_labels : list of str, optional
        One label per row (e.g. the sample's label, outlier score and cosine),
        written beside the row.
    extra : dict, optional
        More explanations to show beside the first: ``name -> array of shape
        (n, n_features)`` (e.g. baseline explainers).
    feature_names : list of str, optional
        Bar labels for tabular data.
    notes : list of list of str, optional
        Per row, one short text per explanation (e.g. its cosine), written
        under each map.
    relevance_name : str, default="explanation"
        Column title of ``relevances``.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the arrays' shapes differ or ``row_labels`` has the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_explanations
    >>> X = np.random.RandomState(0).rand(2, 16)
    >>> fig = plot_explanations(X, X, X - 0.5, (4, 4), title="demo")
    >>> len(fig.axes)  # the panels, painted into one image, and 2 colorbars
    3
    """
    images, ground_truths, maps = _check_rows(images, ground_truths, relevances, extra,
                                              relevance_name)
    n = images.shape[0]
    if row_labels is not None and len(row_labels) != n:
        raise ValueError(f"row_labels must have one label per row ({n}); got {len(row_labels)}.")
    if notes is not None and (len(notes) != n or any(len(r) != len(maps) for r in notes)):
        raise ValueError(f"notes must hold {len(maps)} texts for each of the {n} rows.")
    if not _is_image(image_shape):
        return _plot_feature_bars(images, ground_truths, maps, title=title, row_labels=row_labels,
                                  feature_names=feature_names, notes=notes)
    return _plot_image_grid(images, ground_truths, maps, tuple(image_shape), title=title,
                            row_labels=row_labels, notes=notes)


def _grid_gaps(image_shape, with_notes):
    """Pixels between panels (columns, rows) and inches per pixel of the grid."""
    h, w = image_shape[:2]
    scale = 1.2 / w
    gx = max(1, round(0.12 / scale))
    gy = max(1, round((0.3 if with_notes else 0.12) / scale))
    return gx, gy, scale


def _rgba(arr, cmap, lo):
    import matplotlib

    if arr.ndim == 3:  # a colour image as it is
        rgb = np.clip(arr[..., :3], 0.0, 1.0)
        return np.concatenate([rgb, np.ones(arr.shape[:2] + (1,))], axis=-1)
    return matplotlib.colormaps[cmap]((np.clip(arr, lo, 1.0) - lo) / (1.0 - lo))


def _plot_image_grid(images, ground_truths, maps, image_shape, *, title, row_labels, notes):
    """Every panel painted into ONE RGBA mosaic drawn by one imshow.

    The axes' data units are inches. One axes, one image and two colorbars
    per figure, whatever the number of panels: an axes (or an image) per
    panel and a constrained layout cost seconds per figure, most of the
    report's time.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n, n_cols = images.shape[0], 2 + len(maps)
    h, w = image_shape[:2]
    gx, gy, scale = _grid_gaps(image_shape, notes is not None)
    pw, ph = w * scale, h * scale
    mosaic = np.ones((n * h + (n - 1) * gy, n_cols * w + (n_cols - 1) * gx, 4))
    for i in range(n):
        panels = [
            _rgba(images[i].reshape(image_shape), "gray", 0.0),
            _rgba(_unit(_as_image(ground_truths[i], image_shape), signed=False), GROUND_TRUTH_CMAP, 0.0),
            *(_rgba(_unit(_as_image(r[i], image_shape), signed=True), RELEVANCE_CMAP, -1.0)
              for r in maps.values()),
        ]
        for c, rgba in enumerate(panels):
            r0, c0 = i * (h + gy), c * (w + gx)
            mosaic[r0:r0 + h, c0:c0 + w] = rgba
    left, top, bottom = 0.55, 0.55 if title else 0.35, 0.85
    W = left + mosaic.shape[1] * scale + 0.15
    H = top + mosaic.shape[0] * scale + (0.2 if notes is not None else 0.0) + bottom
    fig = new_figure((W, H))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, W)
    ax.set_ylim(0, H)
    ax.set_axis_off()
    ax.imshow(mosaic, extent=(left, left + mosaic.shape[1] * scale, H - top - mosaic.shape[0] * scale,
                              H - top), interpolation="nearest", aspect="auto")
    for i in range(n):
        y1 = H - top - i * (h + gy) * scale
        for c in range(n_cols):
            x0 = left + c * (w + gx) * scale
            ax.add_patch(_frame(x0, y1 - ph, pw, ph))
            if c >= 2 and notes is not None:
                ax.text(x0 + pw / 2, y1 - ph - 0.04, notes[i][c - 2], ha="center", va="top", fontsize=7)
        if row_labels is not None:
            ax.text(left - 0.08, y1 - ph / 2, row_labels[i], ha="right", va="center",
                    rotation=90, fontsize=7, multialignment="center")
    for c, name in enumerate(("input", "ground truth", *maps)):
        ax.text(left + c * (w + gx) * scale + pw / 2, H - top + 0.05, name, ha="center",
                va="bottom", fontsize=8)
    if title:
        ax.text(W / 2, H - 0.08, title, ha="center", va="top", fontsize=9, weight="bold")
    # colorbars under the ground-truth column and under the relevance columns
    cb_y, cb_h = 0.42, 0.1
    x_gt = left + (w + gx) * scale
    x_rel = left + 2 * (w + gx) * scale + 0.1
    for x0, width, cmap, lo, label in (
            (x_gt, pw, GROUND_TRUTH_CMAP, 0, "ground truth / max\n(Reds)"),
            (x_rel, min(W - x_rel - 0.15, max(pw, len(maps) * (w + gx) * scale - gx * scale)),
             RELEVANCE_CMAP, -1, "relevance / max |R|\n(seismic)")):
        cax = fig.add_axes((x0 / W, cb_y / H, width / W, cb_h / H))
        cb = fig.colorbar(ScalarMappable(norm=Normalize(lo, 1), cmap=cmap), cax=cax,
                          orientation="horizontal")
        cb.set_ticks([0, 0.5, 1] if lo == 0 else [-1, 0, 1] if width < 2 * pw else [-1, -0.5, 0, 0.5, 1])
        cb.ax.tick_params(labelsize=6, length=2, pad=1)
        cb.ax.set_xlabel(label, fontsize=7, labelpad=1)
    return fig


def _frame(x0, y0, w, h):
    from matplotlib.patches import Rectangle

    return Rectangle((x0, y0), w, h, fill=False, linewidth=0.5, edgecolor="0.3")


def _plot_feature_bars(images, ground_truths, maps, *, title, row_labels, feature_names, notes):
    """Tabular rows: ground truth as outlined bars, the first map as signed bars,
    further maps as markers; all divided by their largest (absolute) value."""
    n, d = images.shape
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise ValueError(f"feature_names must have {d} names; got {len(names)}.")
    fig = new_figure((max(5.5, 0.42 * d + 2.5), 1.7 * n + 1.3), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    pos = np.arange(d)
    first, *others = maps
    markers = "osD^vP*X"
    for i, ax in enumerate(axes):
        gt = _unit(ground_truths[i], signed=False)
        ax.bar(pos, gt, 0.8, facecolor="#f5b7b1", edgecolor="#922b21", linewidth=0.8,
               label="ground truth")
        rel = _unit(maps[first][i], signed=True)
        ax.bar(pos, rel, 0.4, color=np.where(rel >= 0, "#c0392b", "#2471a3"), label=first)
        for k, name in enumerate(others):
            ax.plot(pos, _unit(maps[name][i], signed=True), linestyle="none",
                    marker=markers[k % len(markers)], markersize=4, markerfacecolor="none",
                    color=f"C{k}", label=name)
        ax.axhline(0, color="k", linewidth=0.5)
        ax.set_ylim(-1.1, 1.1)
        ax.set_xticks(pos, names if i == n - 1 else [""] * d, rotation=45, fontsize=7, ha="right")
        ax.tick_params(axis="y", labelsize=6)
        ax.grid(axis="y", alpha=0.3)
        if i == 0:
            ax.text(1.0, 1.02, "each series / its max |value|", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=6, color="0.4")
        if row_labels is not None:
            ax.set_ylabel(row_labels[i], fontsize=7)
        if notes is not None:
            ax.set_title("   ".join(f"{k}: {t}" for k, t in zip(maps, notes[i])), fontsize=6, loc="left")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(maps) + 1, 4), fontsize=6, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _curve_parts(value):
    """``(fractions, {name: mean curve})`` from a tuple or a dict of curves."""
    if isinstance(value, dict):
        fr = np.asarray(value["fractions"], dtype=np.float64)
        return fr, {k: np.asarray(v, dtype=np.float64) for k, v in value.items() if k != "fractions"}
    fr, rel, rnd = value
    return np.asarray(fr, dtype=np.float64), {"lrp": np.asarray(rel, dtype=np.float64),
                                              "random": np.asarray(rnd, dtype=np.float64)}


def plot_pixel_flipping(curves, *, title=None, ax=None, legend=True):
    """Pixel-flipping curves, relevance order (solid) vs random (dashed).

    The curve is ``o_k(x) / o(x)`` after removing the ``k`` most relevant
    features ([T] Sec. 1.4, eq. 1.16): the faster it falls, the better the
    explanation tracks what the model uses.

    Parameters
    ----------
    curves : dict
        ``name -> (fractions, mean_curve_relevance, mean_curve_random)``, or
        ``name -> {"fractions": f, explainer: mean curve, ...}`` where the
        explainer ``"random"`` is drawn dashed and grey.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.
    legend : bool, default=True

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_pixel_flipping
    >>> f = np.linspace(0, 1, 5)
    >>> fig = plot_pixel_flipping({"KDE": (f, 1 - f ** 0.5, 1 - f)})
    >>> len(fig.axes[0].lines)
    2
    """
    if ax is None:
        fig = new_figure((4.6, 3.3))
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.14, bottom=0.14, right=0.97, top=0.9)
    else:
        fig = ax.figure
    multi = len(curves) > 1
    random_labelled = False
    for k, (name, value) in enumerate(curves.items()):
        fr, parts = _curve_parts(value)
        color = f"C{k % 10}" if multi else None
        for j, (expl, c) in enumerate(parts.items()):
            if expl == "random":
                # one legend entry for every random-order curve
                label = "_nolegend_" if random_labelled else "random order"
                random_labelled = True
                ax.plot(fr, c, linestyle="--", color=color or "0.5", alpha=0.7, label=label)
                continue
            label = (name if expl == "lrp" else f"{name} {expl}") if multi else expl
            ax.plot(fr, c, label=label, color=color if multi else f"C{j}",
                    linestyle="-" if expl == "lrp" else ":")
    ax.set_xlabel("fraction of features removed", fontsize=8)
    ax.set_ylabel("o_k(x) / o(x)", fontsize=8)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=6, loc="upper right")  # a fixed place: "best" is slow
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_top_clever_hans(table, *, k=3, score="clever_hans_difference"):
    """Top-``k`` anomaly types by Clever Hans score for each detector ([P] Fig. 3).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``detector``, ``anomaly``, ``roc_auc``, ``cosine`` and
        ``score``; one row per detector and anomaly (filter explainers first).
        With a boolean column ``clever_hans`` its true rows are drawn red,
        the others grey; else positive scores red, negative blue.
    k : int, default=3
    score : str, default="clever_hans_difference"

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad.plotting import plot_top_clever_hans
    >>> t = pd.DataFrame({"detector": ["KDE"] * 4, "anomaly": list("abcd"),
    ...                   "roc_auc": [.9, .8, .7, .6], "cosine": [.1, .5, .2, .6],
    ...                   "clever_hans_difference": [.8, .3, .5, 0.]})
    >>> fig = plot_top_clever_hans(t)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['a', 'c', 'b']
    """
    if int(k) < 1:
        raise ValueError(f"k must be >= 1; got {k!r}.")
    dets = list(dict.fromkeys(table["detector"]))
    n = len(dets)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = new_figure((3.1 * cols, 0.45 * k * rows + 1.0 * rows + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    hi = float(np.nanmax(np.abs(table[score].to_numpy(dtype=float)))) if len(table) else 1.0
    hi = hi if np.isfinite(hi) and hi > 0 else 1.0
    for ax, det in zip(axes, dets):
        top = table[table["detector"] == det].nlargest(int(k), score)
        vals = top[score].to_numpy(dtype=float)
        pos = np.arange(len(top))[::-1]
        if "clever_hans" in top.columns:  # the report's verdict: red = a Clever Hans case
            colors = ["#c0392b" if f else "#95a5a6" for f in top["clever_hans"]]
        else:
            colors = ["#c0392b" if v > 0 else "#2980b9" for v in vals]
        ax.barh(pos, vals, color=colors)
        ax.set_yticks(pos, top["anomaly"].tolist(), fontsize=7)
        for p, v, roc, cos in zip(pos, vals, top["roc_auc"], top["cosine"]):
            ax.text(0.02 * hi if v <= 0 else v * 0.02, p, f"ROC {roc:.2f}  cos {cos:.2f}",
                    va="center", fontsize=6, color="white" if v > 0.45 * hi else "black")
        ax.set_xlim(min(0.0, -hi * 0.05, np.nanmin(vals, initial=0.0) * 1.1), hi * 1.05)
        ax.axvline(0, color="k", linewidth=0.5)
        ax.set_title(det, fontsize=8)
        ax.tick_params(axis="x", labelsize=6)
        ax.set_xlabel("Clever Hans score, ROC - cosine" if score == "clever_hans_difference"
                      else score.replace("_", " "), fontsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def plot_roc_vs_clever_hans(detectors, mean_roc, mean_clever_hans, *, best=None):
    """Mean detection ROC against mean Clever Hans score per detector ([P] Fig. 6, left).

    A trustworthy detector sits bottom right: high ROC, low Clever Hans score.

    Parameters
    ----------
    detectors : list of str
    mean_roc, mean_clever_hans : array-like of shape (n_detectors,)
    best : str, optional
        A detector to mark (the report's most trustworthy one).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the three inputs differ in length.

    Examples
    --------
    >>> from skexplain_ad.plotting import plot_roc_vs_clever_hans
    >>> fig = plot_roc_vs_clever_hans(["KDE", "Bag"], [0.8, 0.9], [0.4, 0.2], best="Bag")
    >>> len(fig.axes[0].texts)
    2
    """
    roc = np.asarray(mean_roc, dtype=np.float64)
    ch = np.asarray(mean_clever_hans, dtype=np.float64)
    if not len(detectors) == roc.size == ch.size:
        raise ValueError(f"detectors, mean_roc and mean_clever_hans differ in length: "
                         f"{len(detectors)}, {roc.size}, {ch.size}.")
    fig = new_figure((4.6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    for k, (name, x, y) in enumerate(zip(detectors, roc, ch)):
        star = name == best
        ax.scatter([x], [y], s=90 if star else 40, marker="*" if star else "o",
                   color="#27ae60" if star else "#34495e", zorder=3)
        # alternate label sides so that close points stay readable
        ax.annotate(name, (x, y), textcoords="offset points", fontsize=7,
                    xytext=(-5, 4 - 12 * (k % 2)), ha="right")
    ax.set_xlabel("mean detection ROC-AUC (higher = better)", fontsize=8)
    ax.set_ylabel("mean Clever Hans score, ROC - cosine\n(lower = better)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    lo, hi = np.nanmin(roc, initial=0.5), np.nanmax(roc, initial=1.0)
    ax.set_xlim(min(0.45, lo - 0.03), max(1.0, hi) + 0.03)
    ax.set_ylim(min(0.0, np.nanmin(ch, initial=0.0) - 0.05), max(0.2, np.nanmax(ch, initial=0.0) + 0.05))
    ax.axhline(0, color="k", linewidth=0.5)
    return fig


def plot_explainer_comparison(means, *, metrics=("cosine", "pixel_flipping_auc")):
    """Grouped bars: each detector's explainers side by side, one panel per metric.

    Parameters
    ----------
    means : pandas.DataFrame
        Index ``(detector, explainer)`` (a MultiIndex), a column per metric.
    metrics : tuple of str, default=("cosine", "pixel_flipping_auc")
        Columns to draw; absent ones are skipped.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad.plotting import plot_explainer_comparison
    >>> idx = pd.MultiIndex.from_tuples([("KDE", "lrp"), ("KDE", "random")],
    ...                                 names=["detector", "explainer"])
    >>> m = pd.DataFrame({"cosine": [0.6, 0.2], "pixel_flipping_auc": [0.3, 0.5]}, index=idx)
    >>> len(plot_explainer_comparison(m).axes)
    2
    """
    metrics = [m for m in metrics if m in means.columns]
    if not metrics:
        raise ValueError(f"means has none of the columns {list(metrics)}.")
    dets = list(dict.fromkeys(means.index.get_level_values(0)))
    expls = list(dict.fromkeys(means.index.get_level_values(1)))
    fig = new_figure((max(4.5, 1.1 * len(dets) + 1.5) * len(metrics) / 1.3, 3.0), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / len(expls)
    pos = np.arange(len(dets))
    fixed = {"lrp": "#1e8449", "random": "#b3b6b7", "distance-to-mean": "#2e86c1",
             "occlusion": "#d68910", "kernel-shap": "#8e44ad"}
    for ax, metric in zip(axes, metrics):
        for j, e in enumerate(expls):
            vals = [means[metric].get((d, e), np.nan) for d in dets]
            ax.bar(pos - 0.4 + width * (j + 0.5), vals, width, label=e, color=fixed.get(e),
                   edgecolor="k" if e == "lrp" else "none", linewidth=0.8)
        ax.set_xticks(pos, dets, fontsize=7, rotation=30, ha="right")
        better = "lower" if "flipping" in metric or "seconds" in metric else "higher"
        ax.set_title(f"{metric} ({better} = better)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncols=len(expls), fontsize=7, frameon=False)
    return fig
