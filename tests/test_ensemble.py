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


# ------------------------------------------- errors before work, members named
class _FitForbidden(KDEDetector):
    """A KDE whose fit must not run: the ensemble refutes the data first."""

    def fit(self, X, y=None):
        raise AssertionError("a member was fitted before the ensemble checked X's shape")


@pytest.mark.parametrize(
    "split, params, match",
    [
        (True, {"k": 26, "l": 1},
         r"k=26 nearest templates of member 'b'.*at most 25 templates \(_FitForbidden "
         r"fitted on 25 rows, its part of n_samples=50 with split=True\); k must be in \[1, 25\]"),
        (True, {"k": 1, "l": 26}, r"l=26 nearest templates of member 'a'.*l must be in \[1, 25\]"),
        (False, {"k": 51, "l": 1}, r"k=51 .*fitted on 50 rows\); k must be in \[1, 50\]"),
        (False, {"k": 1, "l": 51}, r"l=51 .*l must be in \[1, 50\]"),
    ],
)
def test_times_k_l_refuted_before_any_member_is_fitted(split, params, match):
    X = np.random.RandomState(0).normal(size=(50, 3))
    ens = TimesEnsemble([("a", _FitForbidden()), ("b", _FitForbidden())], split=split,
                        random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        ens.fit(X)


def test_times_k_l_within_bound_fit():
    # the bound is the rows a member is fitted on: k = l = 25 of 50 with split
    X = np.random.RandomState(0).normal(size=(50, 3))
    ens = TimesEnsemble([("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=0.3))],
                        k=25, l=25, random_state=0).fit(X)
    assert ens.pairs_.shape[0] > 0


def test_times_k_above_support_vectors_after_fit():
    # an OC-SVM has fewer templates than rows: known only once fitted
    X = np.random.RandomState(0).normal(size=(50, 3))
    ens = TimesEnsemble([("a", KDEDetector(gamma=0.3)), ("b", OCSVMDetector(gamma=0.3, nu=0.1))],
                        k=25, l=1, random_state=0)
    with pytest.raises(ValueError, match=r"k=25 nearest templates of member 'b'.*but 'b' has "
                                         r"only (\d+) templates; k must be in \[1, \1\]") as err:
        ens.fit(X)
    assert int(str(err.value).split("only ")[1].split()[0]) < 25


def test_times_non_softmin_member_refused_before_fitting():
    X = np.random.RandomState(0).normal(size=(30, 3))
    bag = BaggedDetector([("x", _FitForbidden()), ("y", _FitForbidden())])
    with pytest.raises(ValueError, match=r"member 'bag' \(BaggedDetector\) has no templates_"):
        TimesEnsemble([("a", _FitForbidden()), ("bag", bag)]).fit(X)


def test_times_torch_member_refused_before_training(monkeypatch):
    pytest.importorskip("torch")
    from skexplain_ad import AutoencoderDetector

    def no_training(self, X, y=None):
        raise AssertionError("the autoencoder was trained")

    monkeypatch.setattr(AutoencoderDetector, "fit", no_training)
    X = np.random.RandomState(0).normal(size=(30, 3))
    with pytest.raises(ValueError, match=r"member 'ae' \(AutoencoderDetector\) has no templates_"):
        TimesEnsemble([("a", _FitForbidden()), ("ae", AutoencoderDetector())]).fit(X)


class _WrongWidth(KDEDetector):
    """A KDE whose explain or outlier_score returns the wrong shape."""

    def __init__(self, *, gamma=0.5, bad="explain"):
        super().__init__(gamma=gamma)
        self.bad = bad

    def explain(self, X):
        R = super().explain(X)
        return R[:, :1] if self.bad == "explain" else R

    def outlier_score(self, X):
        o = super().outlier_score(X)
        return np.column_stack([o, o]) if self.bad == "score" else o


@pytest.mark.parametrize("Ens", [BaggedDetector, TimesEnsemble])
@pytest.mark.parametrize("bad, match", [
    ("explain", r"member 'w' \(_WrongWidth\)\.explain returned an array of shape \(2, 1\) "
                r"for X of shape \(2, 4\); expected \(2, 4\)"),
    ("score", r"member 'w' \(_WrongWidth\)\.outlier_score returned an array of shape \(2, 2\) "
              r"for X of shape \(2, 4\); expected \(2,\)"),
])
def test_member_with_wrong_output_shape_is_named_at_fit(Ens, bad, match):
    # (n, 1) relevance would broadcast silently into the bag's (n, d) sum
    X = np.random.RandomState(0).normal(size=(30, 4))
    ens = Ens([("kde", KDEDetector(gamma=0.5)), ("w", _WrongWidth(bad=bad))])
    with pytest.raises(ValueError, match=Ens.__name__ + ": " + match):
        ens.fit(X)


class _BadTemplates(KDEDetector):
    """A KDE whose fitted templates_ lose a column."""

    def fit(self, X, y=None):
        super().fit(X)
        self.templates_ = self.templates_[:, :-1]
        return self

    def explain(self, X):  # keeps the probe of check_member_outputs quiet
        return np.zeros(np.shape(X))

    def outlier_score(self, X):
        return np.zeros(np.shape(X)[0])


def test_times_member_templates_of_wrong_width_named():
    X = np.random.RandomState(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match=r"member 'b' \(_BadTemplates\) has templates_ of "
                                         r"shape \(15, 3\); expected \(n_templates >= 1, 4\)"):
        TimesEnsemble([("a", KDEDetector(gamma=0.5)), ("b", _BadTemplates(gamma=0.5))],
                      random_state=0).fit(X)
