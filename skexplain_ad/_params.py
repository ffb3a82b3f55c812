"""Parameter constraints shared by the soft-min detectors and the ensembles.

In the estimator layer, beside :mod:`skexplain_ad.base`: the detectors and
the ensembles both read it, and neither imports the other.
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from . import backends
from ._gamma import GAMMA_HEURISTICS

__all__ = ["SOFTMIN_CONSTRAINTS", "BackendOptions", "RuleOptions", "RULE_CONSTRAINT"]


class BackendOptions(StrOptions):
    """``"auto"`` or a name registered in :mod:`skexplain_ad.backends`, read at
    validation time, so that :func:`skexplain_ad.backends.register` extends
    what every estimator accepts."""

    def __init__(self):
        super().__init__({"auto"})

    @property
    def options(self):
        return {"auto", *backends.names()}

    @options.setter
    def options(self, value):  # set by StrOptions.__init__; the registry decides
        pass


class RuleOptions(StrOptions):
    """The propagation rules of :data:`skexplain_ad.backends.RULES`, read at
    validation time, so that :func:`skexplain_ad.backends.register_rule`
    extends what every estimator accepts."""

    def __init__(self):
        super().__init__(set(backends.RULES))

    @property
    def options(self):
        return set(backends.RULES)

    @options.setter
    def options(self, value):  # set by StrOptions.__init__; the registry decides
        pass


RULE_CONSTRAINT = [RuleOptions()]

SOFTMIN_CONSTRAINTS = {
    "gamma": [Interval(Real, 0, None, closed="neither"), StrOptions(set(GAMMA_HEURISTICS))],
    "rule": RULE_CONSTRAINT,
    "backend": [BackendOptions()],
    "device": [str, None],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
}
