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
- relevance over the input (the anomalib view): the same colours laid over
  the input with an opacity proportional to ``|R| / max |R|``, so that
  irrelevant pixels show the input unchanged; the ground truth's outline in
  lime;
- ground truth: ``Reds``, divided by its largest value;
- inputs: ``gray`` for grey images, colour images in colour.

Images arrive flattened, one row per sample. ``image_shape`` is ``(H, W)``
for grey images and ``(C, H, W)`` (channels first, ``C`` = 1 or 3, flattened
as ``C * H * W``) for colour ones; ``(H, W, C)`` (channels last) is read too
when ``H`` is not 1 or 3. A relevance map or ground truth of a colour image
may hold ``C * H * W`` values (summed over channels for display, as the
documents sum relevance per pixel) or ``H * W``.

Legibility: every text is at least :data:`MIN_FONT_PT` points and every
figure at most :data:`MAX_WIDTH_IN` inches wide, so that a figure saved at
``dpi >= MIN_DPI`` and shown in a page up to 1,118 px wide (the report's
column in a 1,400 px window) prints no text under 10 px.
"""

import math

import numpy as np

__all__ = [
    "RELEVANCE_CMAP",
    "GROUND_TRUTH_CMAP",
    "MIN_DPI",
    "MIN_FONT_PT",
    "MAX_WIDTH_IN",
    "curve_parts",
    "heatmap",
    "new_figure",
    "overlay_rgba",
    "plot_explanations",
    "plot_overlays",
    "plot_pixel_flipping",
    "plot_pixel_flipping_grid",
    "plot_top_clever_hans",
    "plot_roc_vs_clever_hans",
    "plot_explainer_comparison",
]

#: Colormap of every relevance map.
RELEVANCE_CMAP = "seismic"
#: Colormap of every ground-truth map.
GROUND_TRUTH_CMAP = "Reds"
#: Colour of the ground truth's outline on the overlays.
OUTLINE_COLOR = "lime"
#: The smallest dpi the figures are meant to be saved with.
MIN_DPI = 80
#: The smallest font of any figure, in points: 10 px at :data:`MIN_DPI`.
MIN_FONT_PT = 9.0
#: The widest figure, in inches (1,080 px at :data:`MIN_DPI`).
MAX_WIDTH_IN = 13.5

# font sizes (points): notes, ticks and annotations; axis labels; titles
_FS_SMALL, _FS_LABEL, _FS_TITLE = MIN_FONT_PT, 10.0, 11.0


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


# ---------------------------------------------------------------------------
# text extents, measured before a figure exists (its size depends on them)
# ---------------------------------------------------------------------------

_MEASURE_DPI = 720  # fine enough that hinting does not round the extents


def _text_size(text, fontsize, *, weight="normal"):
    """Width and height of ``text`` in inches (lines split at ``\\n``)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    lines = str(text).split("\n")
    renderer = RendererAgg(1, 1, _MEASURE_DPI)
    prop = FontProperties(size=fontsize, weight=weight)
    width = max(renderer.get_text_width_height_descent(ln, prop, ismath=False)[0]
                for ln in lines) / _MEASURE_DPI
    return width, len(lines) * _line_height(fontsize)


def _line_height(fontsize):
    """Inches per text line (matplotlib's line spacing 1.2, a little slack)."""
    return 1.25 * fontsize / 72.0


def _wrap(text, fontsize, width):
    """``text`` broken at spaces into lines no wider than ``width`` inches
    where possible (a single word stays whole)."""
    out = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and _text_size(trial, fontsize)[0] > width:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------------------
# images: layout, channels, colours
# ---------------------------------------------------------------------------


class _Layout:
    """How a flattened row is an image: ``h``, ``w``, ``c`` and the order."""

    def __init__(self, image_shape):
        try:
            shape = tuple(int(s) for s in image_shape)
        except TypeError:
            shape = None
        if shape is not None and len(shape) == 2 and min(shape) > 0:
            (self.h, self.w), self.c, self.channels_first = shape, 1, True
        elif shape is not None and len(shape) == 3 and min(shape) > 0 and shape[0] in (1, 3):
            (self.c, self.h, self.w), self.channels_first = shape, True
        elif shape is not None and len(shape) == 3 and min(shape) > 0 and shape[2] in (1, 3):
            (self.h, self.w, self.c), self.channels_first = shape, False
        else:
            raise ValueError("image_shape must be (H, W) for grey images or (C, H, W) with C in "
                             f"{{1, 3}} for colour ones; got {image_shape!r}.")
        self.shape = shape
        self.n_features = self.c * self.h * self.w

    def check(self, name, arr, *, pixels_ok):
        d = arr.shape[1]
        if d != self.n_features and not (pixels_ok and d == self.h * self.w):
            also = f" or {self.h * self.w} (one per pixel)" if pixels_ok and self.c > 1 else ""
            raise ValueError(f"{name} must have {self.n_features} columns for image_shape "
                             f"{self.shape}{also}; got {d}.")

    def pixels(self, v):
        """A map of shape (h, w): channels summed."""
        v = np.asarray(v, dtype=np.float64)
        if v.size == self.h * self.w:
            return v.reshape(self.h, self.w)
        img = v.reshape(self.shape)
        return img.sum(axis=0 if self.channels_first else -1)

    def rgb(self, v):
        """The input as an (h, w) grey or (h, w, 3) colour array in [0, 1].

        Values already in [0, 1] are kept; others are scaled by the image's
        own minimum and maximum.
        """
        v = np.asarray(v, dtype=np.float64).reshape(self.shape)
        if self.c == 3:
            v = np.moveaxis(v, 0, -1) if self.channels_first else v
        elif len(self.shape) == 3:
            v = v.reshape(self.h, self.w)
        lo, hi = float(v.min()), float(v.max())
        if lo < 0.0 or hi > 1.0:
            v = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
        return v


def _is_image(image_shape):
    return image_shape is not None and len(tuple(image_shape)) >= 2


def _unit(v, *, signed=True):
    """``v`` divided by its largest absolute value; zeros stay zeros."""
    v = np.asarray(v, dtype=np.float64)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    return v / m if m > 0 else v


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _input_rgba(img):
    """RGBA of an input from :meth:`_Layout.rgb` (grey through ``gray``)."""
    if img.ndim == 3:
        return np.concatenate([img, np.ones(img.shape[:2] + (1,))], axis=-1)
    return _cmap("gray")(img)


def _relevance_rgba(r):
    """RGBA of a unit map r in [-1, 1] in ``seismic`` (0 is white)."""
    return _cmap(RELEVANCE_CMAP)((np.clip(r, -1.0, 1.0) + 1.0) / 2.0)


def _blend(base, r, alpha):
    """``base`` (RGBA) under ``seismic(r)`` with opacity ``alpha * |r|``."""
    r = np.clip(r, -1.0, 1.0)
    a = (alpha * np.abs(r))[..., None]
    out = base.copy()
    out[..., :3] = (1.0 - a) * base[..., :3] + a * _relevance_rgba(r)[..., :3]
    return out


def overlay_rgba(image, relevance, image_shape, *, alpha=0.8):
    """The relevance map laid over its input, as an RGBA array ([P] Fig. 4 over the input).

    The map is summed over channels, divided by its largest absolute value
    (``r`` in [-1, 1]) and coloured with ``seismic``; each pixel blends that
    colour over the input with opacity ``alpha * |r|``::

        out = (1 - alpha |r|) * input + alpha |r| * seismic(r)

    so a pixel without relevance shows the input as it is and the most
    relevant pixel is ``alpha`` parts relevance colour.

    Parameters
    ----------
    image : array-like of shape (n_features,)
        The flattened input; drawn grey (``gray``) or in colour.
    relevance : array-like of shape (n_features,) or (H * W,)
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)`` with ``C`` in {1, 3}.
    alpha : float in [0, 1], default=0.8
        Opacity of the relevance colour where ``|r| = 1``.

    Returns
    -------
    rgba : ndarray of shape (H, W, 4)
        Floats in [0, 1]; the alpha channel is 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import overlay_rgba
    >>> rgba = overlay_rgba(np.full(4, 0.5), np.array([0.0, 0.0, 0.0, 2.0]), (2, 2))
    >>> rgba.shape, rgba[0, 0, :3].round(3).tolist()
    ((2, 2, 4), [0.502, 0.502, 0.502])
    """
    alpha = _check_alpha(alpha)
    layout = _Layout(image_shape)
    image = np.asarray(image, dtype=np.float64).reshape(1, -1)
    relevance = np.asarray(relevance, dtype=np.float64).reshape(1, -1)
    layout.check("image", image, pixels_ok=False)
    layout.check("relevance", relevance, pixels_ok=True)
    return _blend(_input_rgba(layout.rgb(image[0])), _unit(layout.pixels(relevance[0])), alpha)


def _check_alpha(alpha):
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}.")
    return a


def heatmap(ax, relevance, image_shape, *, vmax=None, cmap=RELEVANCE_CMAP):
    """Draw one relevance map as a heatmap centred at zero.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    relevance : array-like of shape (n_features,) or (H * W,)
        Flattened relevance; colour channels are summed.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
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
    img = _Layout(image_shape).pixels(relevance)
    v = float(np.abs(img).max()) if vmax is None else float(vmax)
    v = v if v > 0 else 1.0
    im = ax.imshow(img, cmap=cmap, vmin=-v, vmax=v, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


# ---------------------------------------------------------------------------
# example grids ([P] Fig. 4)
# ---------------------------------------------------------------------------


def _check_rows(images, ground_truths, maps, image_shape):
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty 2-d array (n, n_features); got shape {images.shape}.")
    arrays = {} if ground_truths is None else {"ground_truths": ground_truths}
    arrays.update(maps)
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    layout = _Layout(image_shape) if _is_image(image_shape) else None
    if layout is not None:
        layout.check("images", images, pixels_ok=False)
    for name, arr in arrays.items():
        if arr.ndim != 2 or arr.shape[0] != images.shape[0] or (
                layout is None and arr.shape != images.shape):
            raise ValueError(f"{name} must have the shape of images {images.shape}; got {arr.shape}.")
        if layout is not None:
            layout.check(name, arr, pixels_ok=True)
    gt = arrays.pop("ground_truths", None)
    return images, gt, arrays, layout


def _check_texts(name, texts, n, per_row=None):
    if texts is None:
        return None
    texts = list(texts)
    if len(texts) != n or (per_row is not None and any(len(r) != per_row for r in texts)):
        what = "one text per row" if per_row is None else f"{per_row} texts for each of the {n} rows"
        raise ValueError(f"{name} must hold {what} ({n} rows); got {len(texts)}.")
    return [str(t) for t in texts] if per_row is None else [[str(t) for t in r] for r in texts]


def plot_explanations(images, ground_truths, relevances, image_shape, *, title=None,
                      row_labels=None, extra=None, feature_names=None, notes=None,
                      relevance_name="explanation", overlay=False, row_notes=None,
                      alpha=0.8, outline=True):
    """Input | ground truth | explanation, one row per example ([P] Fig. 4).

    Each relevance map is divided by its own largest absolute value and drawn
    with the ``seismic`` colormap on [-1, 1]; each ground truth is divided by
    its largest value and drawn with ``Reds`` on [0, 1]; one colorbar per
    colormap says so. With ``overlay`` the relevance is also (or only) drawn
    over the input, as :func:`overlay_rgba` describes. Without an image shape
    (tabular data) each row is a bar chart over the features instead.

    Parameters
    ----------
    images, ground_truths, relevances : array-like of shape (n, n_features)
        Ground truths and relevances of colour images may also have one
        value per pixel, (n, H * W).
    image_shape : tuple or None
        ``(H, W)`` or ``(C, H, W)`` (channels first) for images; None or
        ``(n_features,)`` for tabular data (bar charts).
    title : str, optional
    row_labels : list of str, optional
        One label per row (e.g. the sample's label and outlier score),
        written left of the row; may hold line breaks.
    extra : dict, optional
        More explanations to show beside the first: ``name -> array of shape
        (n, n_features)`` (e.g. baseline explainers).
    feature_names : list of str, optional
        Bar labels for tabular data.
    notes : list of list of str, optional
        Per row, one short text per explanation (e.g. its cosine), written
        under each map; may hold line breaks.
    relevance_name : str, default="explanation"
        Column title of ``relevances``.
    overlay : {False, True, "all"}, default=False
        True adds a column after the ground truth with the first explanation
        over the input; ``"all"`` draws every explanation over the input
        instead of on white. Images only.
    row_notes : list of str, optional
        One text per row written right of the row, e.g. the conservation
        check ``"sum R = 12.3\\no(x) = 12.3"``.
    alpha : float in [0, 1], default=0.8
        Opacity of the relevance colour where ``|R| = max |R|`` (overlays).
    outline : bool, default=True
        Draw the ground truth's outline (half its maximum) on the overlays.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the arrays' shapes differ, ``image_shape`` does not describe
        them, or ``row_labels``, ``notes``, ``row_notes``, ``overlay`` or
        ``alpha`` is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_explanations
    >>> X = np.random.RandomState(0).rand(2, 16)
    >>> fig = plot_explanations(X, X, X - 0.5, (4, 4), title="demo", overlay=True)
    >>> len(fig.axes)  # the panels, painted into one image, and 2 colorbars
    3
    """
    maps = {str(relevance_name): relevances}
    for name, r in (extra or {}).items():
        maps[str(name)] = r
    images, ground_truths, maps, layout = _check_rows(images, ground_truths, maps, image_shape)
    if ground_truths is None:
        raise ValueError("ground_truths must be an array of the shape of images; got None.")
    n = images.shape[0]
    row_labels = _check_texts("row_labels", row_labels, n)
    notes = _check_texts("notes", notes, n, per_row=len(maps))
    row_notes = _check_texts("row_notes", row_notes, n)
    if overlay not in (False, True, "all"):
        raise ValueError(f"overlay must be False, True or 'all'; got {overlay!r}.")
    alpha = _check_alpha(alpha)
    if layout is None:
        return _plot_feature_bars(images, ground_truths, maps, title=title, row_labels=row_labels,
                                  feature_names=feature_names, notes=notes, row_notes=row_notes)
    first = next(iter(maps))
    columns = [("input", "input", None, None), ("ground truth", "truth", ground_truths, None)]
    if overlay is True:
        columns.append((f"{first} over input", "overlay", maps[first], None))
    for k, (name, r) in enumerate(maps.items()):
        columns.append((name, "overlay" if overlay == "all" else "map", r, k))
    return _plot_image_grid(images, ground_truths, columns, layout, title=title,
                            row_labels=row_labels, notes=notes, row_notes=row_notes,
                            alpha=alpha, outline=outline)


def plot_overlays(images, relevances, image_shape, *, ground_truths=None, title=None,
                  row_labels=None, notes=None, row_notes=None, alpha=0.8, outline=True,
                  show_input=True):
    """Relevance over the input, one row per example (the anomalib view).

    Parameters
    ----------
    images : array-like of shape (n, n_features)
    relevances : array-like of shape (n, n_features) or dict
        One explanation per row, or ``name -> array`` for several columns
        (e.g. one per detector). Colour images may have one value per pixel.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)`` (channels first).
    ground_truths : array-like of shape (n, n_features), optional
        Adds a ground-truth column and, with ``outline``, its outline on
        every overlay.
    title : str, optional
    row_labels : list of str, optional
        One label per row, written left of the row.
    notes : list of list of str, optional
        Per row, one text per explanation, written under its overlay.
    row_notes : list of str, optional
        One text per row written right of the row (e.g. ``"sum R = o(x)"``).
    alpha : float in [0, 1], default=0.8
        Opacity of the relevance colour where ``|R| = max |R|``; see
        :func:`overlay_rgba`.
    outline : bool, default=True
    show_input : bool, default=True
        Keep the plain input as the first column.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`plot_explanations`; also when ``image_shape`` is not an
        image shape.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_overlays
    >>> rng = np.random.RandomState(0)
    >>> X, R = rng.rand(2, 3 * 8 * 8), rng.randn(2, 3 * 8 * 8)
    >>> fig = plot_overlays(X, {"KDE": R, "Bag": -R}, (3, 8, 8))
    >>> fig.axes[0].images[0].get_array().shape[2]
    4
    """
    if not _is_image(image_shape):
        raise ValueError(f"image_shape must be (H, W) or (C, H, W) for plot_overlays; got {image_shape!r}.")
    maps = dict(relevances) if isinstance(relevances, dict) else {"explanation": relevances}
    maps = {str(k): v for k, v in maps.items()}
    if not maps:
        raise ValueError("relevances must hold at least one explanation; got an empty dict.")
    images, ground_truths, maps, layout = _check_rows(images, ground_truths, maps, image_shape)
    n = images.shape[0]
    row_labels = _check_texts("row_labels", row_labels, n)
    notes = _check_texts("notes", notes, n, per_row=len(maps))
    row_notes = _check_texts("row_notes", row_notes, n)
    alpha = _check_alpha(alpha)
    columns = [("input", "input", None, None)] if show_input else []
    if ground_truths is not None:
        columns.append(("ground truth", "truth", ground_truths, None))
    columns += [(name, "overlay", r, k) for k, (name, r) in enumerate(maps.items())]
    return _plot_image_grid(images, ground_truths, columns, layout, title=title,
                            row_labels=row_labels, notes=notes, row_notes=row_notes,
                            alpha=alpha, outline=outline)


_PANEL_IN = 1.2  # the widest panel, inches
_MIN_PANEL_IN = 0.75  # the narrowest (before the figure may pass MAX_WIDTH_IN)


def _plot_image_grid(images, ground_truths, columns, layout, *, title, row_labels, notes,
                     row_notes, alpha, outline):
    """Every panel painted into ONE RGBA mosaic drawn by one imshow.

    ``columns``: ``(title, kind, maps, note index)`` with kind ``input``,
    ``truth``, ``map`` or ``overlay``. The axes' data units are inches; each
    text's place comes from its measured extent, so nothing overlaps. One
    axes, one image and up to two colorbars per figure, whatever the number
    of panels: an axes per panel and a constrained layout cost seconds per
    figure, most of the report's time.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n, n_cols = images.shape[0], len(columns)
    h, w = layout.h, layout.w
    label_w = max((_text_size(t, _FS_SMALL)[0] for t in row_labels), default=0.0) if row_labels else 0.0
    rnote_w = max((_text_size(t, _FS_SMALL)[0] for t in row_notes), default=0.0) if row_notes else 0.0
    left = 0.2 + (label_w + 0.12 if row_labels else 0.0)
    right = 0.2 + (rnote_w + 0.12 if row_notes else 0.0)
    # panel size: as wide as _PANEL_IN, narrower rather than past MAX_WIDTH_IN
    gap = 0.12
    avail = MAX_WIDTH_IN - left - right
    pw = min(_PANEL_IN, (avail + gap) / n_cols - gap)
    for _ in range(5):  # the gaps are whole image pixels: shrink until it fits
        pw = max(_MIN_PANEL_IN, pw)
        scale = pw / w  # inches per image pixel
        gx = max(1, round(gap / scale))
        total = n_cols * pw + (n_cols - 1) * gx * scale
        if total <= avail + 1e-9 or pw <= _MIN_PANEL_IN:
            break
        pw *= avail / total
    ph = h * scale
    note_lines = max((t.count("\n") + 1 for r in notes for t in r), default=0) if notes else 0
    gy = max(1, math.ceil((0.14 + note_lines * _line_height(_FS_SMALL) + (0.04 if notes else 0))
                          / scale))
    head = [_wrap(name, _FS_LABEL, pw + gx * scale - 0.06) for name, *_ in columns]
    head_h = max(_text_size(t, _FS_LABEL)[1] for t in head) + 0.08
    top = head_h + 0.1 + (_text_size(title, _FS_TITLE)[1] + 0.1 if title else 0.0)
    kinds = [kind for _, kind, *_ in columns]
    has_bar = any(k in ("truth", "map", "overlay") for k in kinds)
    bottom = 1.05 if has_bar else 0.2
    # the mosaic, in image pixels
    mosaic = np.ones((n * h + (n - 1) * gy, n_cols * w + (n_cols - 1) * gx, 4))
    origins = np.zeros((n, n_cols, 2), dtype=int)
    for i in range(n):
        base = _input_rgba(layout.rgb(images[i]))
        for c, (_, kind, arr, _k) in enumerate(columns):
            if kind == "input":
                rgba = base
            elif kind == "truth":
                rgba = _cmap(GROUND_TRUTH_CMAP)(np.clip(_unit(layout.pixels(arr[i])), 0.0, 1.0))
            elif kind == "map":
                rgba = _relevance_rgba(_unit(layout.pixels(arr[i])))
            else:
                rgba = _blend(base, _unit(layout.pixels(arr[i])), alpha)
            r0, c0 = i * (h + gy), c * (w + gx)
            origins[i, c] = r0, c0
            mosaic[r0:r0 + h, c0:c0 + w] = rgba
    mw, mh = mosaic.shape[1] * scale, mosaic.shape[0] * scale
    W = left + mw + right
    H = top + mh + bottom
    fig = new_figure((W, H))
    fig._skexplain_panels = {"origins": origins, "shape": (h, w), "gaps": (gx, gy), "scale": scale,
                             "columns": [name for name, *_ in columns]}
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, W)
    ax.set_ylim(0, H)
    ax.set_axis_off()
    ax.imshow(mosaic, extent=(left, left + mw, H - top - mh, H - top), interpolation="nearest",
              aspect="auto")
    col_x = [left + c * (w + gx) * scale for c in range(n_cols)]
    for i in range(n):
        y1 = H - top - i * (h + gy) * scale
        for c, (_, kind, arr, k) in enumerate(columns):
            ax.add_patch(_frame(col_x[c], y1 - ph, pw, ph))
            if kind == "overlay" and outline and ground_truths is not None:
                g = _unit(layout.pixels(ground_truths[i]))
                if g.max() > 0.5 and g.min() < 0.5:
                    ax.contour(g, levels=[0.5], colors=OUTLINE_COLOR, linewidths=1.0, origin="upper",
                               extent=(col_x[c], col_x[c] + pw, y1 - ph, y1))
            if k is not None and notes is not None:
                ax.text(col_x[c] + pw / 2, y1 - ph - 0.05, notes[i][k], ha="center", va="top",
                        fontsize=_FS_SMALL, multialignment="center")
        if row_labels is not None:
            ax.text(left - 0.12, y1 - ph / 2, row_labels[i], ha="right", va="center",
                    fontsize=_FS_SMALL, multialignment="right")
        if row_notes is not None:
            ax.text(left + mw + 0.12, y1 - ph / 2, row_notes[i], ha="left", va="center",
                    fontsize=_FS_SMALL, multialignment="left")
    for c, name in enumerate(head):
        ax.text(col_x[c] + pw / 2, H - top + 0.06, name, ha="center", va="bottom",
                fontsize=_FS_LABEL, multialignment="center")
    if title:
        ax.text(W / 2, H - 0.08, title, ha="center", va="top", fontsize=_FS_TITLE, weight="bold")
    # colorbars under the ground-truth column and under the relevance columns
    cb_y, cb_h = 0.72, 0.1
    rel_cols = [c for c, k in enumerate(kinds) if k in ("map", "overlay")]
    bars = []
    if "truth" in kinds:
        c = kinds.index("truth")
        bars.append((col_x[c], pw, GROUND_TRUTH_CMAP, 0, "ground truth / max\n(Reds)"))
    if rel_cols:
        x0 = col_x[rel_cols[0]]
        x1 = col_x[rel_cols[-1]] + pw
        label = "relevance / max |R|\n(seismic" + (", over the input)" if "overlay" in kinds else ")")
        bars.append((x0, x1 - x0, RELEVANCE_CMAP, -1, label))
    inset = 0.12  # keeps the end ticks of neighbouring colorbars apart
    for x0, width, cmap, lo, label in bars:
        cax = fig.add_axes(((x0 + inset) / W, cb_y / H, (width - 2 * inset) / W, cb_h / H))
        cb = fig.colorbar(ScalarMappable(norm=Normalize(lo, 1), cmap=cmap), cax=cax,
                          orientation="horizontal")
        ticks = [0, 0.5, 1] if lo == 0 else [-1, 0, 1] if width < 2 * pw else [-1, -0.5, 0, 0.5, 1]
        cb.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
        cb.ax.tick_params(labelsize=_FS_SMALL, length=2, pad=1)
        cb.ax.set_xlabel(label, fontsize=_FS_SMALL, labelpad=1)
    return fig


def _frame(x0, y0, w, h):
    from matplotlib.patches import Rectangle

    return Rectangle((x0, y0), w, h, fill=False, linewidth=0.5, edgecolor="0.3")


def _plot_feature_bars(images, ground_truths, maps, *, title, row_labels, feature_names, notes,
                       row_notes):
    """Tabular rows: ground truth as outlined bars, the first map as signed bars,
    further maps as markers; all divided by their largest (absolute) value."""
    n, d = images.shape
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise ValueError(f"feature_names must have {d} names; got {len(names)}.")
    label_w = max((_text_size(t, _FS_SMALL)[0] for t in row_labels), default=0.0) if row_labels else 0.0
    width = min(MAX_WIDTH_IN, max(6.0, 0.3 * d + 2.5 + label_w))
    fig = new_figure((width, 1.9 * n + 1.6), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    pos = np.arange(d)
    # every k-th feature named when 9-pt names would not fit side by side
    step = max(1, math.ceil(d * 1.4 * _FS_SMALL / 72.0 / max(width - 2.0 - label_w, 1.0)))
    first, *others = maps
    markers = "osD^vP*X"
    for i, ax in enumerate(axes):
        gt = _unit(ground_truths[i])
        ax.bar(pos, gt, 0.8, facecolor="#f5b7b1", edgecolor="#922b21", linewidth=0.8,
               label="ground truth")
        rel = _unit(maps[first][i])
        ax.bar(pos, rel, 0.4, color=np.where(rel >= 0, "#c0392b", "#2471a3"), label=first)
        for k, name in enumerate(others):
            ax.plot(pos, _unit(maps[name][i]), linestyle="none",
                    marker=markers[k % len(markers)], markersize=4, markerfacecolor="none",
                    color=f"C{k}", label=name)
        ax.axhline(0, color="k", linewidth=0.5)
        ax.set_ylim(-1.1, 1.1)
        ax.set_xticks(pos[::step], names[::step] if i == n - 1 else [""] * len(pos[::step]),
                      rotation=45, fontsize=_FS_SMALL, ha="right")
        ax.tick_params(axis="y", labelsize=_FS_SMALL)
        ax.grid(axis="y", alpha=0.3)
        if row_labels is not None:
            ax.set_ylabel(row_labels[i], fontsize=_FS_SMALL)
        texts = ([f"{k}: {t}" for k, t in zip(maps, notes[i])] if notes is not None else [])
        if row_notes is not None:
            texts.append(row_notes[i])
        if texts:
            ax.set_title("   ".join(t.replace("\n", ", ") for t in texts), fontsize=_FS_SMALL,
                         loc="left")
    from matplotlib.patches import Patch

    handles, labels = axes[0].get_legend_handles_labels()
    handles[1] = (Patch(color="#c0392b"), Patch(color="#2471a3"))  # both signs of the bars
    labels[1] = f"{first} (+ / -)"
    from matplotlib.legend_handler import HandlerTuple

    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(maps) + 1, 4),
               fontsize=_FS_SMALL, frameon=False, title="each series / its max |value|",
               title_fontsize=_FS_SMALL, handler_map={tuple: HandlerTuple(ndivide=None)})
    if title:
        fig.suptitle(title, fontsize=_FS_TITLE)
    return fig


# ---------------------------------------------------------------------------
# pixel flipping ([T] Sec. 1.4)
# ---------------------------------------------------------------------------


def curve_parts(value):
    """``(fractions, {name: mean curve})`` from a tuple or a dict of curves.

    Parameters
    ----------
    value : dict or tuple
        ``{"fractions": f, name: curve, ...}`` or ``(fractions, relevance
        curve, random curve)``.

    Returns
    -------
    fractions : ndarray
    curves : dict

    Examples
    --------
    >>> from skexplain_ad.plotting import curve_parts
    >>> fr, parts = curve_parts(([0, 1], [1, 0], [1, 0.5]))
    >>> sorted(parts)
    ['lrp', 'random']
    """
    if isinstance(value, dict):
        fr = np.asarray(value["fractions"], dtype=np.float64)
        return fr, {k: np.asarray(v, dtype=np.float64) for k, v in value.items() if k != "fractions"}
    fr, rel, rnd = value
    return np.asarray(fr, dtype=np.float64), {"lrp": np.asarray(rel, dtype=np.float64),
                                              "random": np.asarray(rnd, dtype=np.float64)}


def _legend_width(labels, fontsize=_FS_SMALL):
    """Inches a one-column legend of ``labels`` takes (handle, pad, frame)."""
    text = max((_text_size(t, fontsize)[0] for t in labels), default=0.0)
    return text + 3.6 * fontsize / 72.0


_RANDOM_GID = "random-order"


def _legend_entries(axes):
    """Handles and labels of the curves in ``axes``, the first of each
    label, then one grey dashed entry standing for every random order."""
    from matplotlib.lines import Line2D

    handles, has_random = {}, False
    for ax in axes:
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lb, hd)
        has_random |= any(ln.get_gid() == _RANDOM_GID for ln in ax.lines)
    if has_random:
        handles["random order"] = Line2D([], [], linestyle="--", color="0.5", alpha=0.7)
    return list(handles.values()), list(handles)


def _draw_curves(ax, curves, colors, multi=None):
    """The lines of :func:`plot_pixel_flipping`. ``multi``: label and colour
    by curve name (several names in the axes) or by explainer (one name)."""
    multi = len(curves) > 1 if multi is None else multi
    colors = colors or {}
    for k, (name, value) in enumerate(curves.items()):
        fr, parts = curve_parts(value)
        color = colors.get(name, f"C{k % 10}") if multi else None
        for j, (expl, c) in enumerate(parts.items()):
            if expl == "random":
                # in the detector's colour, dashed; one grey legend entry for all
                ax.plot(fr, c, linestyle="--", color=color or "0.5", alpha=0.7,
                        label="_nolegend_", gid=_RANDOM_GID)
                continue
            label = (name if expl == "lrp" else f"{name} {expl}") if multi else expl
            ax.plot(fr, c, label=label, color=color if multi else colors.get(expl, f"C{j}"),
                    linestyle="-" if expl == "lrp" else ":")
    ax.set_xlabel("fraction of features removed", fontsize=_FS_LABEL)
    ax.set_ylabel("o_k(x) / o(x)", fontsize=_FS_LABEL)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.tick_params(labelsize=_FS_SMALL)
    ax.grid(alpha=0.25)


def plot_pixel_flipping(curves, *, title=None, ax=None, legend=True, colors=None):
    """Pixel-flipping curves, relevance order (solid) vs random (dashed).

    The curve is ``o_k(x) / o(x)`` after removing the ``k`` most relevant
    features ([T] Sec. 1.4, eq. 1.16): the faster it falls, the better the
    explanation tracks what the model uses. The legend sits right of the
    axes, never over the curves.

    Parameters
    ----------
    curves : dict
        ``name -> (fractions, mean_curve_relevance, mean_curve_random)``, or
        ``name -> {"fractions": f, explainer: mean curve, ...}`` where the
        explainer ``"random"`` is drawn dashed and grey.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure; the legend goes right
        of it (leave room, or pass ``legend=False`` and use
        :func:`plot_pixel_flipping_grid` for a shared one).
    legend : bool, default=True
    colors : dict, optional
        ``name -> colour`` when several names share the axes (the same
        detector in the same colour across panels), ``explainer -> colour``
        when one name is drawn.

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
        fig = new_figure((1, 1))
        ax = fig.add_subplot()
        _draw_curves(ax, curves, colors)
        labels = _legend_entries([ax])[1]
        ax_w, ax_h, left, bottom = 3.9, 2.6, 0.75, 0.6
        top = 0.45 if title else 0.15
        right = (0.25 + _legend_width(labels)) if legend and labels else 0.2
        W, H = left + ax_w + right, bottom + ax_h + top
        fig.set_size_inches(W, H)
        ax.set_position((left / W, bottom / H, ax_w / W, ax_h / H))
    else:
        fig = ax.figure
        _draw_curves(ax, curves, colors)
    handles, labels = _legend_entries([ax])
    if legend and labels:
        # outside the curves, a fixed place ("best" is slow and can cover them)
        ax.legend(handles, labels, fontsize=_FS_SMALL, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    if title:
        ax.set_title(title, fontsize=_FS_LABEL)
    return fig


def plot_pixel_flipping_grid(panels, *, cols=4, title=None):
    """One pixel-flipping panel per item, one legend for all, under the panels.

    Parameters
    ----------
    panels : dict
        ``panel title -> curves``, each ``curves`` as in
        :func:`plot_pixel_flipping` (e.g. one panel per detector with its
        explainers, or one per anomaly type with every detector). A name is
        drawn in the same colour in every panel.
    cols : int, default=4
        Panels per row.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When ``panels`` is empty or ``cols < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_pixel_flipping_grid
    >>> f = np.linspace(0, 1, 5)
    >>> fig = plot_pixel_flipping_grid({"a": {"KDE": (f, 1 - f, 1 - f)},
    ...                                 "b": {"KDE": (f, 1 - f ** 2, 1 - f)}})
    >>> len(fig.axes), len(fig.legends)
    (2, 1)
    """
    if not panels:
        raise ValueError("panels must hold at least one panel; got none.")
    if int(cols) < 1:
        raise ValueError(f"cols must be >= 1; got {cols!r}.")
    n = len(panels)
    cols = min(n, int(cols))
    rows = -(-n // cols)
    # one meaning per colour in every panel: by name when any panel holds
    # several names, else by explainer
    multi = any(len(c) > 1 for c in panels.values())
    keys = (k for c in panels.values() for k in c) if multi else (
        e for c in panels.values() for v in c.values() for e in curve_parts(v)[1] if e != "random")
    colors = {k: f"C{j % 10}" for j, k in enumerate(dict.fromkeys(keys))}
    ax_w, ax_h, gap_x, gap_y = 2.45, 1.75, 0.85, 0.85
    left, right = 0.75, 0.15
    W = left + cols * ax_w + (cols - 1) * gap_x + right
    fig = new_figure((W, 1.0))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (name, curves) in zip(axes, panels.items()):
        _draw_curves(ax, curves, colors, multi)
        ax.set_title(str(name), fontsize=_FS_LABEL)
    for ax in axes[n:]:
        ax.set_visible(False)
    handles = dict(zip(*reversed(_legend_entries(axes[:n]))))
    col_w = _legend_width(list(handles)) + 0.1
    ncols = max(1, min(len(handles), int((W - 0.3) // max(col_w, 0.1))))
    leg_rows = -(-len(handles) // ncols) if handles else 0
    legend_h = leg_rows * 1.5 * _FS_SMALL / 72.0 + 0.15
    top = 0.4 + (0.4 if title else 0.0)
    bottom = 0.65 + legend_h
    H = top + rows * ax_h + (rows - 1) * gap_y + bottom
    fig.set_size_inches(W, H)
    fig.subplots_adjust(left=left / W, right=1 - right / W, bottom=bottom / H, top=1 - top / H,
                        wspace=gap_x / ax_w, hspace=gap_y / ax_h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   bbox_to_anchor=(0.5, 0.05 / H), ncols=ncols, fontsize=_FS_SMALL, frameon=False)
    if title:
        fig.suptitle(title, fontsize=_FS_TITLE, y=1 - 0.1 / H, va="top")
    return fig


# ---------------------------------------------------------------------------
# Clever Hans scores ([P] Fig. 3 and 6)
# ---------------------------------------------------------------------------


_GREY = "#95a5a6"


def plot_top_clever_hans(table, *, k=3, score="clever_hans_difference"):
    """Top-``k`` anomaly types by Clever Hans score for each detector ([P] Fig. 3).

    Each bar is annotated with its ROC and cosine, inside the bar when the
    text fits, else after its end (the axis grows to hold it).

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
    cols = max(1, min(n, 4))
    rows = -(-n // cols)
    fig = new_figure((min(MAX_WIDTH_IN, 3.3 * cols), 0.42 * k * rows + 1.15 * rows + 0.3),
                     layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    hi = float(np.nanmax(np.abs(table[score].to_numpy(dtype=float)))) if len(table) else 1.0
    hi = hi if np.isfinite(hi) and hi > 0 else 1.0
    notes = []
    for ax, det in zip(axes, dets):
        top = table[table["detector"] == det].nlargest(int(k), score)
        vals = top[score].to_numpy(dtype=float)
        pos = np.arange(len(top))[::-1]
        if "clever_hans" in top.columns:  # the report's verdict: red = a Clever Hans case
            colors = ["#c0392b" if f else _GREY for f in top["clever_hans"]]
        else:
            colors = ["#c0392b" if v > 0 else "#2980b9" for v in vals]
        ax.barh(pos, vals, color=colors)
        ax.set_yticks(pos, top["anomaly"].tolist(), fontsize=_FS_SMALL)
        texts = [f"ROC {roc:.2f}  cos {cos:.2f}" for roc, cos in zip(top["roc_auc"], top["cosine"])]
        lo = min(0.0, -hi * 0.05, np.nanmin(vals, initial=0.0) * 1.1)
        ax.set_xlim(lo, hi * 1.05)
        ax.axvline(0, color="k", linewidth=0.5)
        ax.set_title(det, fontsize=_FS_LABEL)
        ax.tick_params(axis="x", labelsize=_FS_SMALL)
        ax.set_xlabel("Clever Hans score, ROC - cosine" if score == "clever_hans_difference"
                      else score.replace("_", " "), fontsize=_FS_SMALL)
        notes.append((ax, pos, vals, texts, lo, hi * 1.05, colors))
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.draw_without_rendering()  # the axes' final widths, for the annotations
    pad = 0.04  # inches between a bar's end and its text
    lo = min(nt[4] for nt in notes) if notes else 0.0
    x_hi = max(nt[5] for nt in notes) if notes else 1.0
    widths = [ax.get_window_extent().width / fig.dpi for ax, *_ in notes]
    sizes = [np.array([_text_size(t, _FS_SMALL)[0] for t in nt[3]]) for nt in notes]
    # a text goes inside its bar when it fits there, else after the bar's end;
    # the common x axis grows until every outside text fits
    for _ in range(4):
        need = []
        for (ax, pos, vals, texts, *_), width_in, tw in zip(notes, widths, sizes):
            per_in = (x_hi - lo) / width_in  # data units per inch
            inside = np.nan_to_num(vals) - max(lo, 0.0) >= (tw + 2 * pad) * per_in
            need += [lo + (max(v, 0.0) - lo) * width_in / (width_in - t - 2 * pad)
                     for v, t, ins in zip(np.nan_to_num(vals), tw, inside)
                     if not ins and width_in > t + 2 * pad]
        x_hi = max([x_hi, *need])
    for (ax, pos, vals, texts, _, _, colors), width_in, tw in zip(notes, widths, sizes):
        ax.set_xlim(lo, x_hi)
        per_in = (x_hi - lo) / width_in
        for p, v, t, w, bar in zip(pos, np.nan_to_num(vals), texts, tw, colors):
            if v - max(lo, 0.0) >= (w + 2 * pad) * per_in:
                x, color = max(lo, 0.0) + pad * per_in, "black" if bar == _GREY else "white"
            else:
                x, color = max(v, 0.0) + pad * per_in, "black"
            ax.text(x, p, t, va="center", ha="left", fontsize=_FS_SMALL, color=color,
                    in_layout=False)
    return fig


def _segment_hits(p0, p1, box):
    """Whether the segment p0-p1 crosses the box ``(x0, y0, x1, y1)`` (Liang-Barsky)."""
    t0, t1 = 0.0, 1.0
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    for p, q in ((-dx, p0[0] - box[0]), (dx, box[2] - p0[0]), (-dy, p0[1] - box[1]),
                 (dy, box[3] - p0[1])):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def _overlap(a, b):
    """Overlap area of two boxes ``(x0, y0, x1, y1)``."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


# (dx, dy, ha, va): where a label goes around its point, in order of preference
_DIRECTIONS = ((1, 0, "left", "center"), (-1, 0, "right", "center"),
               (0, 1, "center", "bottom"), (0, -1, "center", "top"),
               (1, 1, "left", "bottom"), (-1, 1, "right", "bottom"),
               (1, -1, "left", "top"), (-1, -1, "right", "top"))
_RADII_PT = (6, 13, 22, 32, 44, 58, 74)


def _place_labels(ax, xs, ys, names, fontsize, marker_pt=5.0, lines=()):
    """Annotate each point with its name where the text overlaps no other
    label, no marker and stays inside the axes: the first free place in a
    fixed order of directions and distances (deterministic), with a leader
    line past the nearest ring; where none is free, the least-overlapping."""
    fig = ax.figure
    fig.draw_without_rendering()
    to_pt = 72.0 / fig.dpi
    bb = ax.get_window_extent()
    frame = (bb.x0 * to_pt + 2, bb.y0 * to_pt + 2, bb.x1 * to_pt - 2, bb.y1 * to_pt - 2)
    pts = ax.transData.transform(np.column_stack([xs, ys])) * to_pt
    obstacles = [(x - marker_pt, y - marker_pt, x + marker_pt, y + marker_pt) for x, y in pts]
    for x0, y0, x1, y1 in lines:  # error bars: boxes 2 pt thick
        (a, b), (c, d) = ax.transData.transform([(x0, y0), (x1, y1)]) * to_pt
        obstacles.append((min(a, c) - 1, min(b, d) - 1, max(a, c) + 1, max(b, d) + 1))
    placed, leaders = [], []
    for k, ((px, py), x, y, name) in enumerate(zip(pts, xs, ys, names)):
        w, h = (s * 72.0 for s in _text_size(name, fontsize))
        best = None
        for r in _RADII_PT:
            for dx, dy, ha, va in _DIRECTIONS:
                f = r / math.hypot(dx, dy) if dx and dy else r
                ox, oy = dx * f, dy * f
                x0 = px + ox - (0 if ha == "left" else w if ha == "right" else w / 2)
                y0 = py + oy - (0 if va == "bottom" else h if va == "top" else h / 2)
                box = (x0 - 1.5, y0 - 1.5, x0 + w + 1.5, y0 + h + 1.5)
                inside = (box[2] - box[0]) * (box[3] - box[1])
                # in order of weight: labels on labels, leader lines across
                # labels, labels leaving the axes, labels on markers
                hits = [_overlap(box, o) for o in placed]
                cost = sum(1e4 + a for a in hits if a > 0)
                cost += 1e3 * sum(_segment_hits(p0, p1, box) for p0, p1 in leaders)
                if r > _RADII_PT[1]:
                    seg = ((px, py), (px + ox, py + oy))
                    cost += 1e3 * sum(_segment_hits(*seg, o) for o in placed)
                    # markers elsewhere (not those under this point)
                    cost += 10.0 * sum(_segment_hits(*seg, o) for o in obstacles
                                       if not (o[0] <= px <= o[2] and o[1] <= py <= o[3]))
                cost += 10.0 * (inside - _overlap(box, frame))
                cost += sum(_overlap(box, o) for o in obstacles)
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, r, ox, oy, ha, va, box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, r, ox, oy, ha, va, box = best
        placed.append(box)
        if r > _RADII_PT[1]:
            leaders.append(((px, py), (px + ox, py + oy)))
        arrow = (dict(arrowstyle="-", color="0.45", linewidth=0.6, shrinkA=0, shrinkB=3)
                 if r > _RADII_PT[1] else None)
        ax.annotate(name, (x, y), xycoords="data", xytext=(ox, oy), textcoords="offset points",
                    ha=ha, va=va, fontsize=fontsize, arrowprops=arrow, annotation_clip=False)


def _check_interval(name, value, centre):
    if value is None:
        return None
    iv = np.asarray(value, dtype=np.float64)
    if iv.shape != (centre.size, 2):
        raise ValueError(f"{name} must have shape ({centre.size}, 2) (low, high per detector); "
                         f"got {iv.shape}.")
    ok = np.isfinite(iv).all(axis=1) & np.isfinite(centre)
    if np.any((iv[ok, 0] > centre[ok] + 1e-12) | (iv[ok, 1] < centre[ok] - 1e-12)):
        raise ValueError(f"{name} must hold each detector's value between its low and high.")
    return iv


def plot_roc_vs_clever_hans(detectors, mean_roc, mean_clever_hans, *, best=None,
                            roc_interval=None, clever_hans_interval=None):
    """Mean detection ROC against mean Clever Hans score per detector ([P] Fig. 6, left).

    A trustworthy detector sits bottom right: high ROC, low Clever Hans
    score. Each name goes to the first place, in a fixed order of
    directions and distances around its point, where it overlaps no other
    name, marker or leader line and stays inside the axes (deterministic);
    a name moved past the nearest ring gets a thin leader line.

    Parameters
    ----------
    detectors : list of str
    mean_roc, mean_clever_hans : array-like of shape (n_detectors,)
    best : str, optional
        A detector to mark (the report's most trustworthy one).
    roc_interval, clever_hans_interval : array-like of shape (n_detectors, 2), optional
        Confidence intervals (low, high), drawn as error bars.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the inputs differ in length, or an interval has the wrong
        shape or does not hold its value.

    Examples
    --------
    >>> from skexplain_ad.plotting import plot_roc_vs_clever_hans
    >>> fig = plot_roc_vs_clever_hans(["KDE", "Bag"], [0.8, 0.9], [0.4, 0.2], best="Bag")
    >>> len(fig.axes[0].texts)
    2
    """
    detectors = [str(d) for d in detectors]
    roc = np.asarray(mean_roc, dtype=np.float64).ravel()
    ch = np.asarray(mean_clever_hans, dtype=np.float64).ravel()
    if not len(detectors) == roc.size == ch.size:
        raise ValueError(f"detectors, mean_roc and mean_clever_hans differ in length: "
                         f"{len(detectors)}, {roc.size}, {ch.size}.")
    roc_iv = _check_interval("roc_interval", roc_interval, roc)
    ch_iv = _check_interval("clever_hans_interval", clever_hans_interval, ch)
    W, H = 6.2, 4.6
    left, right, bottom, top = 1.0, 0.2, 0.65, 0.45 if best is not None else 0.2
    fig = new_figure((W, H))
    ax = fig.add_axes((left / W, bottom / H, 1 - (left + right) / W, 1 - (bottom + top) / H))
    fin = np.isfinite(roc) & np.isfinite(ch)
    bars = []  # error bars as thin boxes (data units), for the label search
    for iv, horizontal in ((roc_iv, True), (ch_iv, False)):
        if iv is None:
            continue
        ok = fin & np.isfinite(iv).all(axis=1)
        err = np.abs(iv[ok] - (roc if horizontal else ch)[ok, None]).T
        ax.errorbar(roc[ok], ch[ok], xerr=err if horizontal else None, yerr=None if horizontal else err,
                    fmt="none", ecolor="0.6", elinewidth=0.9, capsize=2, zorder=2)
        bars += [((lo_, y, hi_, y) if horizontal else (x, lo_, x, hi_))
                 for (lo_, hi_), x, y in zip(iv[ok], roc[ok], ch[ok])]
    for name, x, y in zip(detectors, roc, ch):
        star = name == best
        ax.scatter([x], [y], s=110 if star else 40, marker="*" if star else "o",
                   color="#27ae60" if star else "#34495e", zorder=3,
                   label="most trustworthy" if star else None)
    ax.set_xlabel("mean detection ROC-AUC (higher = better)", fontsize=_FS_LABEL)
    ax.set_ylabel("mean Clever Hans score, ROC - cosine\n(lower = better)", fontsize=_FS_LABEL)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=_FS_SMALL)
    xs = [roc[fin]] + ([roc_iv[fin].ravel()] if roc_iv is not None else [])
    ys = [ch[fin]] + ([ch_iv[fin].ravel()] if ch_iv is not None else [])
    xs, ys = (np.concatenate(v) for v in (xs, ys))
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    lo, hi = np.min(xs, initial=0.5), np.max(xs, initial=1.0)
    ax.set_xlim(min(0.45, lo - 0.03), max(1.0, hi) + 0.05)
    ax.set_ylim(min(0.0, np.min(ys, initial=0.0) - 0.05), max(0.2, np.max(ys, initial=0.0) + 0.08))
    ax.axhline(0, color="k", linewidth=0.5)
    if best is not None and best in detectors:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=_FS_SMALL, frameon=False,
                  borderaxespad=0.2)
    _place_labels(ax, roc[fin], ch[fin], [d for d, f in zip(detectors, fin) if f], _FS_SMALL,
                  lines=bars)
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
    asked = list(metrics)
    metrics = [m for m in asked if m in means.columns]
    if not metrics:
        raise ValueError(f"means has none of the columns {asked}.")
    dets = list(dict.fromkeys(means.index.get_level_values(0)))
    expls = list(dict.fromkeys(means.index.get_level_values(1)))
    width = min(MAX_WIDTH_IN, max(4.5, 0.75 * len(dets) + 1.5) * len(metrics))
    fig = new_figure((width, 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    bar_w = 0.8 / len(expls)
    pos = np.arange(len(dets))
    fixed = {"lrp": "#1e8449", "random": "#b3b6b7", "distance-to-mean": "#2e86c1",
             "occlusion": "#d68910", "kernel-shap": "#8e44ad"}
    for ax, metric in zip(axes, metrics):
        for j, e in enumerate(expls):
            vals = [means[metric].get((d, e), np.nan) for d in dets]
            ax.bar(pos - 0.4 + bar_w * (j + 0.5), vals, bar_w, label=e, color=fixed.get(e),
                   edgecolor="k" if e == "lrp" else "none", linewidth=0.8)
        ax.set_xticks(pos, dets, fontsize=_FS_SMALL, rotation=30, ha="right")
        better = "lower" if "flipping" in metric or "seconds" in metric else "higher"
        ax.set_title(f"{metric} ({better} = better)", fontsize=_FS_LABEL)
        ax.tick_params(axis="y", labelsize=_FS_SMALL)
        ax.grid(axis="y", alpha=0.25)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncols=len(expls), fontsize=_FS_SMALL, frameon=False)
    return fig
