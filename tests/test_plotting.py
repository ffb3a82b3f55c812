"""The report's figures: Agg canvases, colormaps, normalisation, input checks."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from skexplain_ad import plotting  # noqa: E402


def test_figures_use_their_own_agg_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    X = np.random.RandomState(0).rand(2, 16)
    fig = plotting.plot_explanations(X, X, X - 0.5, (4, 4))
    assert isinstance(fig.canvas, FigureCanvasAgg)


def test_explanations_normalised_maps_and_colormaps():
    import matplotlib

    rng = np.random.RandomState(0)
    X, G, R = rng.rand(3, 12), rng.rand(3, 12) * 5, rng.randn(3, 12) * 7
    E = rng.randn(3, 12)
    fig = plotting.plot_explanations(X, G, R, (3, 4), extra={"occlusion": E},
                                     row_labels=["a", "b", "c"],
                                     notes=[["cos 0.1", "cos 0.2"]] * 3)
    # one axes holds every panel in one image; two colorbars
    assert len(fig.axes) == 3
    mosaic = fig.axes[0].images[0].get_array()
    gx, gy, _ = plotting._grid_gaps((3, 4), True)
    reds, seismic, gray = (matplotlib.colormaps[c] for c in ("Reds", "seismic", "gray"))
    for i in range(3):
        def panel(c):
            r0, c0 = i * (3 + gy), c * (4 + gx)
            return mosaic[r0:r0 + 3, c0:c0 + 4]
        # brute force: each map divided by its largest (absolute) value, then coloured
        np.testing.assert_allclose(panel(0), gray(X[i].reshape(3, 4)))
        np.testing.assert_allclose(panel(1), reds((G[i] / G[i].max()).reshape(3, 4)))
        np.testing.assert_allclose(panel(2), seismic((R[i] / np.abs(R[i]).max()).reshape(3, 4) / 2 + 0.5))
        np.testing.assert_allclose(panel(3), seismic((E[i] / np.abs(E[i]).max()).reshape(3, 4) / 2 + 0.5))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("cos 0.2") == 3 and {"a", "b", "c", "input", "occlusion"} <= set(texts)
    labels = {ax.get_xlabel() for ax in fig.axes[1:]}
    assert labels == {"ground truth / max\n(Reds)", "relevance / max |R|\n(seismic)"}


def test_explanations_colour_images_and_zero_maps():
    X = np.random.RandomState(0).rand(1, 48)
    Z = np.zeros((1, 48))
    fig = plotting.plot_explanations(X, Z, Z, (4, 4, 3))
    mosaic = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(mosaic[:4, :4, :3], X.reshape(4, 4, 3))
    gx = plotting._grid_gaps((4, 4), False)[0]
    # an all-zero relevance is white (the centre of seismic), not an error
    import matplotlib
    np.testing.assert_allclose(mosaic[:4, 2 * (4 + gx):2 * (4 + gx) + 4],
                               np.broadcast_to(matplotlib.colormaps["seismic"](0.5), (4, 4, 4)))


def test_explanations_tabular_bars():
    rng = np.random.RandomState(1)
    X, G, R = rng.rand(2, 5), rng.rand(2, 5), rng.randn(2, 5)
    fig = plotting.plot_explanations(X, G, R, None, feature_names=list("abcde"),
                                     extra={"random": rng.rand(2, 5)})
    assert len(fig.axes) == 2
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights[:5], G[0] / G[0].max())
    np.testing.assert_allclose(heights[5:10], R[0] / np.abs(R[0]).max())
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == list("abcde")


def test_explanations_bad_input():
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"ground_truths must have the shape of images \(2, 4\)"):
        plotting.plot_explanations(X, np.ones((2, 3)), X, (2, 2))
    with pytest.raises(ValueError, match="row_labels must have one label per row"):
        plotting.plot_explanations(X, X, X, (2, 2), row_labels=["a"])
    with pytest.raises(ValueError, match="feature_names must have 4 names; got 2"):
        plotting.plot_explanations(X, X, X, None, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="notes must hold 1 texts"):
        plotting.plot_explanations(X, X, X, (2, 2), notes=[["a", "b"]] * 2)


def test_pixel_flipping_tuple_and_dict_forms():
    f = np.linspace(0, 1, 4)
    fig = plotting.plot_pixel_flipping({"a": (f, 1 - f, 1 - f), "b": (f, 1 - f, 1 - f)})
    assert len(fig.axes[0].lines) == 4
    fig = plotting.plot_pixel_flipping({"a": {"fractions": f, "lrp": 1 - f, "occlusion": 1 - f,
                                              "random": 1 - f}})
    lines = fig.axes[0].lines
    assert [ln.get_label() for ln in lines] == ["lrp", "occlusion", "random order"]
    assert lines[2].get_linestyle() == "--"


def test_top_clever_hans_and_scatter():
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
    with pytest.raises(ValueError, match="k must be >= 1"):
        plotting.plot_top_clever_hans(t, k=0)
    fig = plotting.plot_roc_vs_clever_hans(["A", "B"], [0.75, 0.9], [0.4, 0.05], best="B")
    offsets = [c.get_offsets()[0].tolist() for c in fig.axes[0].collections]
    assert offsets == [[0.75, 0.4], [0.9, 0.05]]
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
