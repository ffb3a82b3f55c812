"""Tables with injected anomalies: the ground truth is exactly what was changed."""

import numpy as np
import pytest

from skexplain_ad.datasets import TABULAR_ANOMALIES, make_tabular_anomalies


@pytest.fixture(scope="module")
def cancer():
    return make_tabular_anomalies("breast-cancer", n_outliers_per_anomaly=25, random_state=0)


def base_rows(ds, name):
    """The clean (standardised) base row of every outlier of type ``name``."""
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    Z = (X - ds.feature_mean) / ds.feature_scale
    return Z[ds.source_index[ds.corruption == name]]


def test_layout(cancer):
    ds = cancer
    n_test_in = int(np.sum(ds.corruption == "none"))
    assert ds.corruption_names == list(TABULAR_ANOMALIES)
    assert ds.data.shape == (n_test_in + 3 * 25, 30) and ds.masks.shape == ds.data.shape
    assert len(ds.data_train) + n_test_in + 25 == 569
    assert ds.image_shape is None and len(ds.feature_names) == 30
    assert ds.feature_names[0] == "mean radius"
    np.testing.assert_array_equal(ds.target, np.where(ds.corruption == "none", 1, -1))
    assert not ds.masks[ds.target == 1].any()
    # train, test and base rows are disjoint
    test_idx = ds.source_index[ds.corruption == "none"]
    base_idx = ds.source_index[ds.corruption == "swap"]
    assert not set(ds.source_index_train) & set(test_idx)
    assert not (set(ds.source_index_train) | set(test_idx)) & set(base_idx)
    # standardised by the training rows
    np.testing.assert_allclose(ds.data_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.data_train.std(axis=0), 1, atol=1e-12)


@pytest.mark.parametrize("name", TABULAR_ANOMALIES)
def test_mask_marks_exactly_the_changed_features(cancer, name):
    ds = cancer
    out = ds.data[ds.corruption == name]
    clean = base_rows(ds, name)
    changed = ~np.isclose(out, clean, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(changed, ds.masks[ds.corruption == name] == 1)
    n_changed = changed.sum(axis=1)
    assert (n_changed == (2 if name == "swap" else 1)).all()


def test_out_of_range_is_beyond_the_training_range(cancer):
    ds = cancer
    lo, hi = ds.data_train.min(axis=0), ds.data_train.max(axis=0)
    sel = ds.corruption == "out-of-range"
    for x, m in zip(ds.data[sel], ds.masks[sel]):
        j = int(np.flatnonzero(m)[0])
        span = hi[j] - lo[j]
        assert x[j] >= hi[j] + 0.5 * span - 1e-9 or x[j] <= lo[j] - 0.5 * span + 1e-9


def test_swap_exchanges_two_values(cancer):
    ds = cancer
    sel = ds.corruption == "swap"
    for x, m, c in zip(ds.data[sel], ds.masks[sel], base_rows(ds, "swap")):
        a, b = np.flatnonzero(m)
        assert x[a] == c[b] and x[b] == c[a]
        # a pair at least 2 sd apart, or the most different pair of the row
        assert abs(c[a] - c[b]) >= 2.0 or np.isclose(abs(c[a] - c[b]), np.ptp(c))


def test_broken_correlation_keeps_the_marginal_and_breaks_the_pair(cancer):
    ds = cancer
    C = np.corrcoef(ds.data_train, rowvar=False)
    sel = ds.corruption == "broken-correlation"
    for x, m in zip(ds.data[sel], ds.masks[sel]):
        b = int(np.flatnonzero(m)[0])
        # a value the feature really takes in the training data
        assert np.isclose(ds.data_train[:, b], x[b], rtol=0, atol=1e-12).any()
        # and a partner, strongly correlated, whose linear relation it breaks by >= 3 sd
        partners = [a for a in range(x.size) if a != b and abs(C[a, b]) >= 0.5]
        resid = [abs(x[b] - C[a, b] * x[a]) / np.sqrt(1 - C[a, b] ** 2) for a in partners]
        assert max(resid) >= 3.0


def test_reproducible_and_subset_consistent():
    a = make_tabular_anomalies("wine", n_outliers_per_anomaly=10, random_state=3)
    b = make_tabular_anomalies("wine", n_outliers_per_anomaly=10, random_state=3)
    np.testing.assert_array_equal(a.data, b.data)
    c = make_tabular_anomalies("wine", ["swap"], n_outliers_per_anomaly=10, random_state=3)
    np.testing.assert_array_equal(c.data[c.corruption == "swap"], a.data[a.corruption == "swap"])


def test_csv_and_dataframe(tmp_path):
    import pandas as pd
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.drop(columns="target")
    frame.insert(0, "label", "w")  # non-numeric: ignored
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    ds = make_tabular_anomalies(path, n_outliers_per_anomaly=10, random_state=0)
    assert ds.feature_names == [c for c in frame.columns if c != "label"]
    ref = make_tabular_anomalies(frame, n_outliers_per_anomaly=10, random_state=0)
    np.testing.assert_allclose(ds.data, ref.data)
    arr = make_tabular_anomalies(frame.drop(columns="label").to_numpy(), n_outliers_per_anomaly=10,
                                 random_state=0)
    np.testing.assert_allclose(arr.data, ref.data)
    assert arr.feature_names[:2] == ["x0", "x1"]
    assert isinstance(pd.read_csv(path), pd.DataFrame)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="anomalies must be a non-empty list"):
        make_tabular_anomalies("wine", ["flip"])
    with pytest.raises(ValueError, match="data must be one of"):
        make_tabular_anomalies("iris")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_tabular_anomalies(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,\n")
    with pytest.raises(ValueError, match=r"missing or infinite values in the columns \['b'\]"):
        make_tabular_anomalies(bad)
    with pytest.raises(ValueError, match="leaves 0 training"):
        make_tabular_anomalies(np.random.RandomState(0).rand(12, 3), n_outliers_per_anomaly=11)
    with pytest.raises(ValueError, match="n_outliers_per_anomaly must be an integer"):
        make_tabular_anomalies("wine", n_outliers_per_anomaly=0)
