"""The report's figures: Agg canvases, colormaps, normalisation, colour images,
overlays, legibility (font sizes, text overlaps, legends outside the curves)."""

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from skexplain_ad import plotting  # noqa: E402

ROOT = Path(__file__).parents[1]
DETECTORS = ["KDE", "Auto", "Deep", "OC-SVM", "C1xC2", "C1+C2", "Bag", "C1xC2-local"]


# ---------------------------------------------------------------------------
# helpers: what was drawn, where
# ---------------------------------------------------------------------------


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _panel(fig, i, c):
    """The mosaic pixels of row i, column c of an example grid."""
    info = fig._skexplain_panels
    mosaic = fig.axes[0].images[0].get_array()
    r0, c0 = info["origins"][i, c]
    h, w = info["shape"]
    return np.asarray(mosaic[r0:r0 + h, c0:c0 + w])


def _drawn_texts(fig, dpi):
    """(text, bbox in pixels) of every text drawn at ``dpi``, with the renderer."""
    from matplotlib.text import Text

    fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    hidden.update({id(tick.label1), id(tick.label2)})
    out = []
    for t in fig.findobj(Text):
        if (id(t) in hidden or not t.get_visible() or not t.get_text().strip()
                or (t.axes is not None and not t.axes.get_visible())):
            continue
        # the text alone (an annotation's extent would include its leader line)
        out.append((t, Text.get_window_extent(t, renderer)))
    return out, renderer


def _overlaps(a, b, tol=0.5):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def _assert_legible(fig, dpi=plotting.MIN_DPI):
    """Fonts >= 10 px at ``dpi``, no two texts overlapping, none cut off, and
    the figure no wider than MAX_WIDTH_IN."""
    assert fig.get_size_inches()[0] <= plotting.MAX_WIDTH_IN + 1e-9
    texts, _ = _drawn_texts(fig, dpi)
    assert texts
    for t, _bb in texts:
        assert t.get_fontsize() * dpi / 72.0 >= 10.0 - 1e-9, (t.get_text(), t.get_fontsize())
    W, H = fig.get_size_inches() * dpi
    for t, bb in texts:
        assert bb.x0 >= -1 and bb.y0 >= -1 and bb.x1 <= W + 1 and bb.y1 <= H + 1, t.get_text()
    for (t1, b1), (t2, b2) in itertools.combinations(texts, 2):
        assert not _overlaps(b1, b2), (t1.get_text(), t2.get_text())


def _digits(n=3, seed=0):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:12, :12]
    X = np.array([np.exp(-((np.hypot(yy - 6, xx - 6) - 3 - 0.5 * k) ** 2)).ravel() for k in range(n)])
    M = np.zeros_like(X)
    M[:, ((yy > 7) & (xx < 4)).ravel()] = 1.0
    R = X * 0.3 + M + 0.1 * rng.randn(*X.shape)
    return X, M, R


# ---------------------------------------------------------------------------
# example grids
# ---------------------------------------------------------------------------


def test_figures_use_their_own_agg_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    X = np.random.RandomState(0).rand(2, 16)
    fig = plotting.plot_explanations(X, X, X - 0.5, (4, 4))
    assert isinstance(fig.canvas, FigureCanvasAgg)


def test_explanations_normalised_maps_and_colormaps():
    rng = np.random.RandomState(0)
    X, G, R = rng.rand(3, 12), rng.rand(3, 12) * 5, rng.randn(3, 12) * 7
    E = rng.randn(3, 12)
    fig = plotting.plot_explanations(X, G, R, (3, 4), extra={"occlusion": E},
                                     row_labels=["a", "b", "c"],
                                     notes=[["cos 0.1", "cos 0.2"]] * 3)
    # one axes holds every panel in one image; two colorbars
    assert len(fig.axes) == 3
    reds, seismic, gray = (_cmap(c) for c in ("Reds", "seismic", "gray"))
    for i in range(3):
        # brute force: each map divided by its largest (absolute) value, then coloured
        np.testing.assert_allclose(_panel(fig, i, 0), gray(X[i].reshape(3, 4)))
        np.testing.assert_allclose(_panel(fig, i, 1), reds((G[i] / G[i].max()).reshape(3, 4)))
        np.testing.assert_allclose(_panel(fig, i, 2),
                                   seismic((R[i] / np.abs(R[i]).max()).reshape(3, 4) / 2 + 0.5))
        np.testing.assert_allclose(_panel(fig, i, 3),
                                   seismic((E[i] / np.abs(E[i]).max()).reshape(3, 4) / 2 + 0.5))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("cos 0.2") == 3 and {"a", "b", "c", "input", "occlusion"} <= set(texts)
    labels = {ax.get_xlabel() for ax in fig.axes[1:]}
    assert labels == {"ground truth / max\n(Reds)", "relevance / max |R|\n(seismic)"}


def test_explanations_colour_images_channels_first():
    rng = np.random.RandomState(1)
    C, H, W = 3, 5, 4
    X = rng.rand(2, C * H * W)
    G = np.zeros((2, H * W))  # a ground truth per pixel is accepted for colour images
    G[:, 3:7] = 1.0
    R = rng.randn(2, C * H * W)
    fig = plotting.plot_explanations(X, G, R, (C, H, W))
    assert fig._skexplain_panels["shape"] == (H, W)
    for i in range(2):
        rgb = np.empty((H, W, 3))
        rel = np.zeros((H, W))
        for c in range(C):  # brute force: channels first, relevance summed per pixel
            for y in range(H):
                for x in range(W):
                    rgb[y, x, c] = X[i, c * H * W + y * W + x]
                    rel[y, x] += R[i, c * H * W + y * W + x]
        np.testing.assert_allclose(_panel(fig, i, 0)[..., :3], rgb)
        np.testing.assert_allclose(_panel(fig, i, 0)[..., 3], 1.0)
        np.testing.assert_allclose(_panel(fig, i, 1), _cmap("Reds")(G[i].reshape(H, W)))
        np.testing.assert_allclose(_panel(fig, i, 2), _cmap("seismic")(rel / np.abs(rel).max() / 2 + 0.5))
    # a relevance of shape (n, C*H*W) and one of (n, H*W) summed beforehand draw alike
    R_pix = R.reshape(2, C, H * W).sum(axis=1)
    fig2 = plotting.plot_explanations(X, G, R_pix, (C, H, W))
    np.testing.assert_allclose(_panel(fig2, 1, 2), _panel(fig, 1, 2))


def test_explanations_channels_last_zero_maps_and_scaling():
    X = np.random.RandomState(0).rand(1, 48)
    Z = np.zeros((1, 48))
    fig = plotting.plot_explanations(X, Z, Z, (4, 4, 3))  # (H, W, C) as before
    np.testing.assert_allclose(_panel(fig, 0, 0)[..., :3], X.reshape(4, 4, 3))
    # an all-zero relevance is white (the centre of seismic), not an error
    np.testing.assert_allclose(_panel(fig, 0, 2),
                               np.broadcast_to(_cmap("seismic")(0.5), (4, 4, 4)))
    # an input outside [0, 1] is scaled by its own minimum and maximum
    Y = np.arange(16.0).reshape(1, 16) * 3 - 5
    fig = plotting.plot_explanations(Y, Y, Y, (4, 4))
    np.testing.assert_allclose(_panel(fig, 0, 0), _cmap("gray")((np.arange(16.0) / 15).reshape(4, 4)))


def _blend_reference(base_rgb, r, alpha):
    """(1 - alpha |r|) * input + alpha |r| * seismic(r), pixel by pixel."""
    seismic = _cmap("seismic")
    out = np.empty(r.shape + (3,))
    for idx in np.ndindex(r.shape):
        a = alpha * abs(r[idx])
        out[idx] = (1 - a) * base_rgb[idx] + a * np.asarray(seismic((r[idx] + 1) / 2))[:3]
    return out


def test_overlay_pixels_blend_input_and_relevance():
    X, M, R = _digits()
    fig = plotting.plot_explanations(X, M, R, (12, 12), overlay=True, alpha=0.6)
    assert fig._skexplain_panels["columns"] == ["input", "ground truth", "explanation over input",
                                                "explanation"]
    gray = _cmap("gray")
    for i in range(3):
        r = (R[i] / np.abs(R[i]).max()).reshape(12, 12)
        base = np.asarray(gray(X[i].reshape(12, 12)))[..., :3]
        got = _panel(fig, i, 2)
        np.testing.assert_allclose(got[..., :3], _blend_reference(base, r, 0.6))
        np.testing.assert_allclose(got[..., 3], 1.0)
        # a real blend: neither the input nor the bare heatmap where 0 < |r| < 1
        mid = (np.abs(r) > 0.2) & (np.abs(r) < 0.95)
        assert mid.any()
        assert np.all(np.abs(got[..., :3] - base).max(axis=-1)[mid] > 1e-3)
        assert np.all(np.abs(got - _panel(fig, i, 3)).max(axis=-1)[mid] > 1e-3)
    # the most relevant pixel is alpha parts relevance colour, a zero-relevance one the input
    R0 = np.zeros((1, 4))
    R0[0, 1] = -2.0
    rgba = plotting.overlay_rgba(np.full(4, 0.25), R0[0], (2, 2), alpha=0.6)
    g = np.asarray(gray(0.25))[:3]
    np.testing.assert_allclose(rgba[0, 0, :3], g)
    np.testing.assert_allclose(rgba[0, 1, :3], 0.4 * g + 0.6 * np.asarray(_cmap("seismic")(0.0))[:3])


def test_overlays_colour_dict_outline_and_ground_truth():
    rng = np.random.RandomState(2)
    X = rng.rand(2, 3 * 6 * 6)
    G = np.zeros((2, 3 * 6 * 6))
    G.reshape(2, 3, 6, 6)[:, :, 1:3, 1:4] = 1.0
    maps = {"KDE": rng.randn(2, 3 * 6 * 6), "Bag": rng.randn(2, 3 * 6 * 6)}
    fig = plotting.plot_overlays(X, maps, (3, 6, 6), ground_truths=G, notes=[["a", "b"]] * 2,
                                 alpha=1.0)
    assert fig._skexplain_panels["columns"] == ["input", "ground truth", "KDE", "Bag"]
    for i in range(2):
        rgb = X[i].reshape(3, 6, 6).transpose(1, 2, 0)
        r = maps["Bag"][i].reshape(3, 6, 6).sum(axis=0)
        np.testing.assert_allclose(_panel(fig, i, 3)[..., :3],
                                   _blend_reference(rgb, r / np.abs(r).max(), 1.0))
    # the ground truth's outline on each of the 2 x 2 overlays, at half its maximum
    from matplotlib.contour import ContourSet

    contours = [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]
    assert len(contours) == 4 and all(list(c.levels) == [0.5] for c in contours)
    fig = plotting.plot_overlays(X, maps, (3, 6, 6), ground_truths=G, outline=False,
                                 show_input=False)
    assert fig._skexplain_panels["columns"] == ["ground truth", "KDE", "Bag"]
    assert not [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]


def test_overlay_all_and_row_notes_in_the_grid():
    X, M, R = _digits()
    fig = plotting.plot_explanations(
        X, M, R, (12, 12), overlay="all", extra={"Bag": -R}, relevance_name="KDE",
        notes=[["cos 0.51\nsum R = o(x)", "cos 0.10"]] * 3,
        row_notes=[f"sum R = {s:.3g}\no(x) = {s:.3g}" for s in (12.3, 4.56, 0.789)],
        row_labels=["stripe / outlier\nscore 12.3"] * 3)
    assert fig._skexplain_panels["columns"] == ["input", "ground truth", "KDE", "Bag"]
    gray = _cmap("gray")
    base = np.asarray(gray(X[1].reshape(12, 12)))[..., :3]
    r = -(R[1] / np.abs(R[1]).max()).reshape(12, 12)
    np.testing.assert_allclose(_panel(fig, 1, 3)[..., :3], _blend_reference(base, r, 0.8))
    texts, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    image_bb = fig.axes[0].images[0].get_window_extent(renderer)
    notes = [bb for t, bb in texts if t.get_text().startswith("sum R = 12.3")]
    assert len(notes) == 1 and notes[0].x0 > image_bb.x1  # right of the panels
    labels = [bb for t, bb in texts if t.get_text().startswith("stripe")]
    assert len(labels) == 3 and all(bb.x1 < image_bb.x0 for bb in labels)  # left of them
    _assert_legible(fig)


def test_explanations_bad_input():
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"ground_truths must have the shape of images \(2, 4\)"):
        plotting.plot_explanations(X, np.ones((2, 3)), X, None)
    with pytest.raises(ValueError, match=r"ground_truths must have 4 columns for image_shape \(2, 2\)"):
        plotting.plot_explanations(X, np.ones((2, 3)), X, (2, 2))
    with pytest.raises(ValueError, match=r"images must have 12 columns for image_shape \(3, 2, 2\)"):
        plotting.plot_explanations(X, X, X, (3, 2, 2))
    with pytest.raises(ValueError, match=r"image_shape must be \(H, W\) for grey images or \(C, H, W\)"):
        plotting.plot_explanations(X, X, X, (2, 1, 2, 1))
    with pytest.raises(ValueError, match=r"image_shape must be .* got \(2, 2, 2\)"):
        plotting.plot_explanations(np.ones((2, 8)), np.ones((2, 8)), np.ones((2, 8)), (2, 2, 2))
    with pytest.raises(ValueError, match="row_labels must hold one text per row"):
        plotting.plot_explanations(X, X, X, (2, 2), row_labels=["a"])
    with pytest.raises(ValueError, match="row_notes must hold one text per row"):
        plotting.plot_explanations(X, X, X, (2, 2), row_notes=["a", "b", "c"])
    with pytest.raises(ValueError, match="feature_names must have 4 names; got 2"):
        plotting.plot_explanations(X, X, X, None, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="notes must hold 1 texts for each of the 2 rows"):
        plotting.plot_explanations(X, X, X, (2, 2), notes=[["a", "b"]] * 2)
    with pytest.raises(ValueError, match="overlay must be False, True or 'all'; got 'yes'"):
        plotting.plot_explanations(X, X, X, (2, 2), overlay="yes")
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]; got 1.5"):
        plotting.plot_explanations(X, X, X, (2, 2), overlay=True, alpha=1.5)
    with pytest.raises(ValueError, match="image_shape must be .* for plot_overlays; got None"):
        plotting.plot_overlays(X, X, None)
    with pytest.raises(ValueError, match=r"relevance must have 4 columns"):
        plotting.overlay_rgba(X[0], np.ones(5), (2, 2))


def test_explanations_tabular_bars():
    rng = np.random.RandomState(1)
    X, G, R = rng.rand(2, 5), rng.rand(2, 5), rng.randn(2, 5)
    fig = plotting.plot_explanations(X, G, R, None, feature_names=list("abcde"),
                                     extra={"random": rng.rand(2, 5)}, row_notes=["sum R 1", "x"],
                                     notes=[["cos 0.1", "cos 0.2"]] * 2)
    assert len(fig.axes) == 2
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights[:5], G[0] / G[0].max())
    np.testing.assert_allclose(heights[5:10], R[0] / np.abs(R[0]).max())
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == list("abcde")
    assert "sum R 1" in fig.axes[0].get_title(loc="left")
    _assert_legible(fig)


def test_grid_legible_with_many_columns():
    X, M, R = _digits(2)
    extra = {d: R * (k + 1) for k, d in enumerate(DETECTORS[1:])}
    fig = plotting.plot_explanations(X, M, R, (12, 12), overlay=True, extra=extra,
                                     relevance_name="KDE", title="stripe",
                                     notes=[[f"cos 0.{k}" for k in range(8)]] * 2,
                                     row_labels=["stripe / outlier\nscore 0.123"] * 2,
                                     row_notes=["sum R = 1.23\no(x) = 1.23"] * 2)
    _assert_legible(fig)
    _assert_legible(fig, dpi=100)


# ---------------------------------------------------------------------------
# pixel flipping
# ---------------------------------------------------------------------------


def _axes_box(ax, renderer):
    return ax.get_window_extent(renderer)


def test_pixel_flipping_tuple_and_dict_forms_legend_outside():
    f = np.linspace(0, 1, 4)
    fig = plotting.plot_pixel_flipping({"a": (f, 1 - f, 1 - f), "b": (f, 1 - f, 1 - f)})
    lines = fig.axes[0].lines
    assert len(lines) == 4 and lines[1].get_color() == lines[0].get_color() == "C0"
    # the random orders in their detector's colour; one grey entry for them all
    (proxy,) = [h for h, t in zip(fig.axes[0].get_legend().legend_handles,
                                  fig.axes[0].get_legend().get_texts()) if t.get_text() == "random order"]
    assert proxy.get_color() == "0.5" and proxy.get_linestyle() == "--"
    fig = plotting.plot_pixel_flipping({"a": {"fractions": f, "lrp": 1 - f, "occlusion": 1 - f,
                                              "kernel-shap": 1 - f ** 2, "random": 1 - f}},
                                       title="a")
    lines = fig.axes[0].lines
    assert [ln.get_label() for ln in lines] == ["lrp", "occlusion", "kernel-shap", "_nolegend_"]
    assert lines[3].get_linestyle() == "--"
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["lrp", "occlusion", "kernel-shap",
                                                          "random order"]
    _, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    legend_bb = fig.axes[0].get_legend().get_window_extent(renderer)
    ax_bb = _axes_box(fig.axes[0], renderer)
    assert legend_bb.x0 > ax_bb.x1  # right of the plotted curves, inside the figure
    assert legend_bb.x1 <= fig.get_size_inches()[0] * plotting.MIN_DPI
    _assert_legible(fig)


def test_pixel_flipping_grid_shared_legend_and_colours():
    f = np.linspace(0, 1, 6)
    panels = {a: {d: (f, np.exp(-(k + 1) * f), 1 - f) for k, d in enumerate(DETECTORS)
                  if not (a == "fog" and d == "KDE")}
              for a in ["stripe", "fog", "zigzag", "canny_edges", "glass_blur"]}
    fig = plotting.plot_pixel_flipping_grid(panels, title="per anomaly")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 5 and not any(ax.get_legend() for ax in axes)
    # one detector, one colour, also where an earlier detector is missing (fog)
    colour = {ln.get_label(): ln.get_color() for ln in axes[0].lines}
    for ax in axes:
        for ln in ax.lines:
            if ln.get_label() in DETECTORS:
                assert ln.get_color() == colour[ln.get_label()]
    _, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [*DETECTORS, "random order"]
    lb = legend.get_window_extent(renderer)
    for ax in axes:
        assert not _overlaps(lb, ax.get_tightbbox(renderer), tol=0)
    _assert_legible(fig)
    # a panel with a single detector is still labelled by detector
    lone = plotting.plot_pixel_flipping_grid({"a": {"KDE": (f, 1 - f, 1 - f), "Bag": (f, f, f)},
                                              "b": {"Bag": (f, 1 - f, 1 - f)}})
    assert [ln.get_label() for ln in lone.axes[1].lines] == ["Bag", "_nolegend_"]
    assert lone.axes[1].lines[0].get_color() == lone.axes[0].lines[2].get_color()
    # one detector per panel: explainers keep their colour where one is missing
    cur = {"fractions": f, "lrp": 1 - f, "occlusion": 1 - f, "kernel-shap": 1 - f, "random": 1 - f}
    part = {k: v for k, v in cur.items() if k != "occlusion"}
    fig = plotting.plot_pixel_flipping_grid({"KDE": {"KDE": cur}, "Bag": {"Bag": part}})
    shap = [ln.get_color() for ax in fig.axes[:2] for ln in ax.lines if ln.get_label() == "kernel-shap"]
    assert len(shap) == 2 and shap[0] == shap[1]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lrp", "occlusion", "kernel-shap",
                                                                 "random order"]
    with pytest.raises(ValueError, match="panels must hold at least one panel"):
        plotting.plot_pixel_flipping_grid({})
    with pytest.raises(ValueError, match="cols must be >= 1; got 0"):
        plotting.plot_pixel_flipping_grid(panels, cols=0)


# ---------------------------------------------------------------------------
# Clever Hans figures
# ---------------------------------------------------------------------------


def test_top_clever_hans_bars_and_annotations():
    t = pd.DataFrame({"detector": ["A"] * 4 + ["B"] * 2, "anomaly": list("abcdab"),
                      "roc_auc": [.9, .8, .7, .6, .9, .9], "cosine": [.1, .5, .2, .6, .9, .8],
                      "clever_hans_difference": [.8, .3, .5, 0., 0., .1],
                      "clever_hans": [True, False, True, False, False, False]})
    fig = plotting.plot_top_clever_hans(t, k=3)
    ax_a, ax_b = fig.axes[:2]
    # highest first, at the top (largest y)
    assert [x.get_text() for x in ax_a.get_yticklabels()] == ["a", "c", "b"]
    assert [x.get_position()[1] for x in ax_a.get_yticklabels()] == [2, 1, 0]
    widths = sorted(p.get_width() for p in ax_a.patches)
    np.testing.assert_allclose(widths, [.3, .5, .8])
    assert len(ax_b.patches) == 2
    assert ax_a.get_xlim() == ax_b.get_xlim()  # one scale for every detector
    texts, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    for ax in (ax_a, ax_b):
        ax_bb = ax.get_window_extent(renderer)
        for txt in ax.texts:
            bb = txt.get_window_extent(renderer)
            assert ax_bb.x0 <= bb.x0 and bb.x1 <= ax_bb.x1  # inside the panel
            bar = min(ax.patches, key=lambda p: abs(p.get_y() + p.get_height() / 2 - txt.get_position()[1]))
            bar_bb = bar.get_window_extent(renderer)
            inside = bb.x1 <= bar_bb.x1
            assert inside or bb.x0 >= bar_bb.x1  # within the bar or after its end
            assert txt.get_color() == ("black" if not inside or bar.get_facecolor()[0] < 0.7 else "white")
    assert {t.get_text() for t in ax_a.texts} == {"ROC 0.90  cos 0.10", "ROC 0.70  cos 0.20",
                                                  "ROC 0.80  cos 0.50"}
    _assert_legible(fig)
    with pytest.raises(ValueError, match="k must be >= 1"):
        plotting.plot_top_clever_hans(t, k=0)


def test_top_clever_hans_eight_detectors_legible():
    rng = np.random.RandomState(3)
    rows = [dict(detector=d, anomaly=a, roc_auc=r, cosine=c, clever_hans_difference=r - c)
            for d in DETECTORS for a in ["stripe", "canny_edges", "glass_blur", "zigzag"]
            for r, c in [(rng.uniform(0.5, 1), rng.uniform(0, 0.6))]]
    fig = plotting.plot_top_clever_hans(pd.DataFrame(rows))
    _assert_legible(fig)


def _near_identical():
    # OC-SVM, C1xC2 and C1+C2 within 0.001 of each other: the case of the issue
    return (DETECTORS, [0.62, 0.71, 0.55, 0.900, 0.901, 0.899, 0.88, 0.93],
            [0.188, 0.30, 0.10, 0.200, 0.201, 0.199, 0.25, 0.21])


@pytest.mark.parametrize("dpi", [plotting.MIN_DPI, 100])
def test_roc_vs_clever_hans_labels_do_not_overlap(dpi):
    names, roc, ch = _near_identical()
    fig = plotting.plot_roc_vs_clever_hans(names, roc, ch, best="C1xC2-local")
    ax = fig.axes[0]
    texts, renderer = _drawn_texts(fig, dpi)
    labels = {t.get_text(): bb for t, bb in texts if t in ax.texts}
    assert set(labels) == set(names)
    for (n1, b1), (n2, b2) in itertools.combinations(labels.items(), 2):
        assert not _overlaps(b1, b2, tol=0), (n1, n2)
    ax_bb = ax.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([roc, ch]))
    for name, bb in labels.items():
        assert ax_bb.x0 <= bb.x0 and bb.x1 <= ax_bb.x1 and ax_bb.y0 <= bb.y0 and bb.y1 <= ax_bb.y1
        for x, y in points:  # no label covers a marker's centre
            assert not (bb.x0 <= x <= bb.x1 and bb.y0 <= y <= bb.y1), name
    _assert_legible(fig, dpi)
    offsets = [c.get_offsets()[0].tolist() for c in ax.collections]
    np.testing.assert_allclose(offsets, np.column_stack([roc, ch]))
    # deterministic: the same places on a second call
    again = plotting.plot_roc_vs_clever_hans(names, roc, ch, best="C1xC2-local")
    assert [t.get_position() for t in ax.texts] == [t.get_position() for t in again.axes[0].texts]
    assert [t.xyann for t in ax.texts] == [t.xyann for t in again.axes[0].texts]


def test_roc_vs_clever_hans_input_checks():
    fig = plotting.plot_roc_vs_clever_hans(["A", "B"], [0.75, 0.9], [0.4, 0.05], best="B")
    offsets = [c.get_offsets()[0].tolist() for c in fig.axes[0].collections]
    assert offsets == [[0.75, 0.4], [0.9, 0.05]]
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "most trustworthy"
    with pytest.raises(ValueError, match="differ in length"):
        plotting.plot_roc_vs_clever_hans(["A"], [0.7, 0.8], [0.1])


def test_explainer_comparison():
    idx = pd.MultiIndex.from_tuples([("K", "lrp"), ("K", "random"), ("B", "lrp"), ("B", "random")],
                                    names=["detector", "explainer"])
    m = pd.DataFrame({"cosine": [0.6, 0.2, 0.5, 0.3]}, index=idx)
    fig = plotting.plot_explainer_comparison(m)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [0.6, 0.5, 0.2, 0.3]
    with pytest.raises(ValueError, match="none of the columns"):
        plotting.plot_explainer_comparison(m, metrics=("pixel_auroc",))
    rng = np.random.RandomState(0)
    idx = pd.MultiIndex.from_product([DETECTORS, ["lrp", "random", "distance-to-mean",
                                                  "occlusion", "kernel-shap"]])
    m = pd.DataFrame({"cosine": rng.rand(40), "pixel_flipping_auc": rng.rand(40)}, index=idx)
    _assert_legible(plotting.plot_explainer_comparison(m))


def test_report_saves_at_a_legible_dpi():
    """Every dpi the report passes to savefig is at least MIN_DPI, where the
    figures' fonts are >= 10 px."""
    files = [ROOT / "skexplain_ad" / "_report.py", *sorted((ROOT / "skexplain_ad" / "_audit").glob("*.py"))]
    pattern = re.compile(r"(?i)\bdpi\w*\s*=\s*(\d+)")
    dpis = [int(v) for f in files if f.is_file() for v in pattern.findall(f.read_text())]
    assert dpis, "no dpi found where the report saves its figures"
    assert min(dpis) >= plotting.MIN_DPI


def test_roc_vs_clever_hans_crowded_leader_lines():
    names = [f"det{k}" for k in range(10)]
    fig = plotting.plot_roc_vs_clever_hans(names, [0.8] * 10, [0.2] * 10)
    ax = fig.axes[0]
    texts, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    boxes = {t.get_text(): bb for t, bb in texts if t in ax.texts}
    assert len(boxes) == 10
    for (n1, b1), (n2, b2) in itertools.combinations(boxes.items(), 2):
        assert not _overlaps(b1, b2, tol=0), (n1, n2)
    ax_bb = ax.get_window_extent(renderer)
    assert all(ax_bb.x0 <= b.x0 and b.x1 <= ax_bb.x1 for b in boxes.values())
    # the crowd pushes the last names out, each tied to its point by a line
    far = [t for t in ax.texts if np.hypot(*t.xyann) > 14]
    assert far and all(t.arrow_patch is not None for t in far)
    assert all(t.arrow_patch is None for t in ax.texts if np.hypot(*t.xyann) <= 14)


def test_roc_vs_clever_hans_intervals():
    names, roc, ch = _near_identical()
    roc_iv = np.column_stack([np.array(roc) - 0.04, np.array(roc) + 0.03])
    ch_iv = np.column_stack([np.array(ch) - 0.02, np.array(ch) + 0.05])
    fig = plotting.plot_roc_vs_clever_hans(names, roc, ch, roc_interval=roc_iv,
                                           clever_hans_interval=ch_iv)
    ax = fig.axes[0]
    from matplotlib.collections import LineCollection

    segs = [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
    horizontal = sorted(tuple(np.round(s[:, 0], 9)) for s in segs if s[0, 1] == s[1, 1])
    assert horizontal == sorted(tuple(np.round(r, 9)) for r in roc_iv)
    vertical = sorted(tuple(np.round(s[:, 1], 9)) for s in segs if s[0, 0] == s[1, 0])
    assert vertical == sorted(tuple(np.round(r, 9)) for r in ch_iv)
    texts, renderer = _drawn_texts(fig, plotting.MIN_DPI)
    labels = [bb for t, bb in texts if t in ax.texts]
    for (b1, b2) in itertools.combinations(labels, 2):
        assert not _overlaps(b1, b2, tol=0)
    # the names avoid the error bars: no bar passes through a name
    for s in segs:
        a, b = ax.transData.transform(s)
        pts = np.linspace(a, b, 200)
        for bb in labels:
            assert not ((pts[:, 0] > bb.x0 + 1) & (pts[:, 0] < bb.x1 - 1)
                        & (pts[:, 1] > bb.y0 + 1) & (pts[:, 1] < bb.y1 - 1)).any()
    _assert_legible(fig)
    with pytest.raises(ValueError, match=r"roc_interval must have shape \(8, 2\)"):
        plotting.plot_roc_vs_clever_hans(names, roc, ch, roc_interval=roc_iv[:3])
    with pytest.raises(ValueError, match="clever_hans_interval must hold each detector's value"):
        plotting.plot_roc_vs_clever_hans(names, roc, ch, clever_hans_interval=ch_iv + 1)
