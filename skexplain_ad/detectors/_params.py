"""The soft-min detectors' parameter constraints: :mod:`skexplain_ad._params`."""

from .._params import RULE_CONSTRAINT, SOFTMIN_CONSTRAINTS, BackendOptions, RuleOptions

__all__ = ["SOFTMIN_CONSTRAINTS", "BackendOptions", "RuleOptions", "RULE_CONSTRAINT"]
