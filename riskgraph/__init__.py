"""riskgraph: graph-based fraud and multi-borrowing detection for consumer lenders.

The credit-decision service imports it as a feature provider::

    from riskgraph import FeatureProvider
    fp = FeatureProvider("OUT")   # reads OUT/latest
    fp.features(["u1", "u2"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["FeatureProvider", "__version__"]

if TYPE_CHECKING:
    from riskgraph.provider import FeatureProvider


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `riskgraph --help` does not load pandas.
    if name == "FeatureProvider":
        from riskgraph.provider import FeatureProvider

        return FeatureProvider
    raise AttributeError(f"module 'riskgraph' has no attribute {name!r}")
