"""Import optbinning without the spurious HiGHS message from cvxpy.

Why this exists: optbinning imports ``ortools``, whose wheel bundles HiGHS 1.12 as
``libhighs.so.1``; it then imports ``ropwr``, which imports ``cvxpy``, which tries to
load ``highspy`` 1.15 against the already-loaded library of the same soname and fails
on a missing symbol. cvxpy catches that and logs "Encountered unexpected exception
importing solver HIGHS" on its own ``__cvxpy__`` logger (which does not propagate).
riskgraph never calls cvxpy, so the message is noise: the logger is disabled for the
duration of the import only. The package-level fix is pinning ``highspy==1.12.0`` (the
HiGHS inside ortools 9.15), which loads cleanly but contradicts cvxpy 1.9's declared
``highspy>=1.14``.
"""

from __future__ import annotations

import logging

__all__ = ["BinningProcess", "OptimalBinning", "Scorecard"]

_cvxpy_logger = logging.getLogger("__cvxpy__")
_was_disabled = _cvxpy_logger.disabled
_cvxpy_logger.disabled = True
try:
    from optbinning import BinningProcess, OptimalBinning, Scorecard
finally:
    _cvxpy_logger.disabled = _was_disabled
