"""The error the graph-feature layer raises for arguments it cannot use."""

from __future__ import annotations

from riskgraph.errors import RiskGraphError

__all__ = ["FeatureError"]


class FeatureError(RiskGraphError):
    """Graph features cannot be computed with the arguments given.

    Raised for a naive or non-UTC-convertible ``as_of``, a ``labels`` or
    ``reference_time`` array of the wrong length or with values outside what is
    allowed; the message names the argument, the first bad position and value, and
    what was expected.
    """
