"""Both ensembles as scikit-learn estimators: checks, nested params, search."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble
from skexplain_ad.model_selection import InlierKFold


def _kde_pair():
    return [("c1", KDEDetector(gamma=0.5)), ("c2", KDEDetector(gamma=1.0))]


@pytest.fixture
def labelled():
    rng = np.random.RandomState(0)
    X_in = rng.normal(size=(80, 3))
    X_out = rng.normal(size=(20, 3)) * 3.0
    X = np.vstack([X_in, X_out])
    y = np.r_[np.ones(80, int), -np.ones(20, int)]
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


@pytest.mark.parametrize("Ens", [BaggedDetector, TimesEnsemble])
def test_nested_params(Ens):
    ens = Ens(_kde_pair())
    params = ens.get_params()
    assert params["c1__gamma"] == 0.5 and params["c2"] is ens.estimators[1][1]
    ens.set_params(c1__gamma=0.1, c2=KDEDetector(gamma=3.0))
    assert ens.named_estimators["c1"].gamma == 0.1
    assert ens.named_estimators.c2.gamma == 3.0
    assert "c1" not in ens.get_params(deep=False)


@pytest.mark.parametrize("Ens", [BaggedDetector, TimesEnsemble])
def test_fitted_members_by_name(labelled, Ens):
    X, _ = labelled
    ens = Ens(_kde_pair(), random_state=0).fit(X)
    assert list(ens.named_estimators_) == ["c1", "c2"]
    assert ens.named_estimators_["c2"] is ens.estimators_[1]
    assert ens.estimators_[0] is not ens.estimators[0][1]  # cloned
    assert not hasattr(ens.estimators[0][1], "templates_")


def test_members_validate_their_own_params(labelled):
    X, _ = labelled
    ens = BaggedDetector([("c1", KDEDetector(gamma=-1.0)), ("c2", KDEDetector())])
    with pytest.raises(ValueError, match="'gamma' parameter of KDEDetector"):
        ens.fit(X)


def _manual_search(est, grid, X, y, cv):
    """Mean held-out ROC AUC of each grid point by an explicit loop: fit on
    the inlier folds, score ``decision_function`` on the held-out fold."""
    scores = []
    for params in ParameterGrid(grid):
        folds = []
        for train, test in cv.split(X, y):
            model = clone(est).set_params(**params).fit(X[train])
            folds.append(roc_auc_score(y[test], model.decision_function(X[test])))
        scores.append(np.mean(folds))
    return list(ParameterGrid(grid)), np.array(scores)


def test_grid_search_over_k_and_l(labelled):
    X, y = labelled
    est, grid, cv = TimesEnsemble(_kde_pair(), random_state=0), {"k": [1, 3], "l": [1, 3]}, \
        InlierKFold(n_splits=3)
    search = GridSearchCV(est, grid, cv=cv, scoring="roc_auc").fit(X, y)
    params, scores = _manual_search(est, grid, X, y, cv)
    assert_allclose(search.cv_results_["mean_test_score"], scores, rtol=1e-12)
    assert search.best_params_ == params[int(np.argmax(scores))]
    assert isinstance(search.best_estimator_, TimesEnsemble)
    assert search.best_estimator_.k == search.best_params_["k"]


@pytest.mark.parametrize("Ens", [BaggedDetector, TimesEnsemble])
def test_grid_search_over_nested_gamma(labelled, Ens):
    X, y = labelled
    est, grid, cv = Ens(_kde_pair(), random_state=0), \
        {"c1__gamma": [0.01, 0.5], "c2__gamma": [0.5]}, InlierKFold(n_splits=3)
    search = GridSearchCV(est, grid, cv=cv, scoring="roc_auc").fit(X, y)
    params, scores = _manual_search(est, grid, X, y, cv)
    assert_allclose(search.cv_results_["mean_test_score"], scores, rtol=1e-12)
    assert search.best_params_ == params[int(np.argmax(scores))]
    best_gamma = search.best_params_["c1__gamma"]
    assert search.best_estimator_.named_estimators_["c1"].gamma_ == best_gamma


@pytest.mark.parametrize(
    "ens",
    [BaggedDetector(_kde_pair()), TimesEnsemble(_kde_pair()), TimesEnsemble(_kde_pair(), k=2, l=2)],
    ids=["bag", "times", "local"],
)
def test_pickle_clone_pipeline_and_contamination(labelled, ens):
    X, _ = labelled
    ens = clone(ens).set_params(random_state=0, contamination=0.2).fit(X)
    restored = pickle.loads(pickle.dumps(ens))
    assert_allclose(restored.explain(X[:5]), ens.explain(X[:5]))
    assert_allclose(restored.score_samples(X), ens.score_samples(X))
    # offset_ from contamination: 20 % of the training rows, each scored out
    # of sample (skexplain_ad._calibration), are outliers
    from skexplain_ad._calibration import training_outlier_score

    oos = -training_outlier_score(ens, ens._validate_X(X))
    assert np.mean(oos < ens.offset_) == pytest.approx(0.2, abs=0.02)
    assert_allclose(ens.decision_function(X), ens.score_samples(X) - ens.offset_)
    pipe = make_pipeline(StandardScaler(), clone(ens)).fit(X)
    assert_array_equal(np.unique(pipe.predict(X)), [-1, 1])
