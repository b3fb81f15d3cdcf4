"""riskgraph: graph-based fraud and multi-borrowing detection for consumer lenders."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
