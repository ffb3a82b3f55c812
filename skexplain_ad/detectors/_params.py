"""Parameter constraints shared by the soft-min detectors."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..backends import BACKEND_NAMES
from ..model_selection import GAMMA_HEURISTICS

SOFTMIN_CONSTRAINTS = {
    "gamma": [Interval(Real, 0, None, closed="neither"), StrOptions(set(GAMMA_HEURISTICS))],
    "backend": [StrOptions({"auto", *BACKEND_NAMES})],
    "device": [str, None],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
}
