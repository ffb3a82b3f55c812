"""Heatmaps and curves (matplotlib, the optional extra ``plot``).

Functions take and return matplotlib objects and never call ``plt.show``;
importing this module does not import matplotlib until a function runs.
"""

import numpy as np

__all__ = ["heatmap", "plot_explanations", "plot_pixel_flipping"]


def _plt():
    try:
        # without a display matplotlib selects the Agg backend by itself
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "skexplain_ad.plotting needs matplotlib: pip install 'skexplain_ad[plot]'."
        ) from exc
    return plt


def _as_image(v, image_shape):
    img = np.asarray(v, dtype=np.float64).reshape(image_shape)
    return img.sum(axis=-1) if img.ndim == 3 else img


def heatmap(ax, relevance, image_shape, *, vmax=None, cmap="seismic"):
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
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skexplain_ad.plotting import heatmap
    >>> fig, ax = plt.subplots()
    >>> im = heatmap(ax, np.arange(4.0), (2, 2))
    >>> im.get_clim()
    (-3.0, 3.0)
    >>> plt.close(fig)
    """
    img = _as_image(relevance, image_shape)
    v = float(np.abs(img).max()) if vmax is None else float(vmax)
    v = v if v > 0 else 1.0
    im = ax.imshow(img, cmap=cmap, vmin=-v, vmax=v, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def plot_explanations(images, ground_truths, relevances, image_shape, *, title=None):
    """Input | ground truth | explanation, one row per example ([P] Fig. 4).

    Parameters
    ----------
    images, ground_truths, relevances : array-like of shape (n, n_features)
    image_shape : tuple
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.plotting import plot_explanations
    >>> X = np.random.RandomState(0).rand(2, 16)
    >>> fig = plot_explanations(X, X, X, (4, 4), title="demo")
    >>> len(fig.axes)
    6
    """
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n + 0.4), squeeze=False)
    for i in range(n):
        img = np.asarray(images[i], dtype=np.float64).reshape(image_shape)
        axes[i, 0].imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=1)
        axes[i, 0].set_xticks([])
        axes[i, 0].set_yticks([])
        axes[i, 1].imshow(_as_image(ground_truths[i], image_shape), cmap="Reds")
        axes[i, 1].set_xticks([])
        axes[i, 1].set_yticks([])
        heatmap(axes[i, 2], relevances[i], image_shape)
    for ax, name in zip(axes[0], ("input", "ground truth", "explanation")):
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_pixel_flipping(curves, *, title=None):
    """Pixel-flipping curves, relevance order (solid) vs random (dashed).

    Parameters
    ----------
    curves : dict
        ``name -> (fractions, mean_curve_relevance, mean_curve_random)``.
    title : str, optional

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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name, (fr, rel, rnd) in curves.items():
        (line,) = ax.plot(fr, rel, label=name)
        ax.plot(fr, rnd, linestyle="--", color=line.get_color(), alpha=0.6)
    ax.set_xlabel("fraction of features removed")
    ax.set_ylabel("o_k(x) / o(x)")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.legend(fontsize=7, title="solid: relevance, dashed: random", title_fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
