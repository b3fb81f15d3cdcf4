"""Keeping last night's fit on a retrain: the margin a refit must beat it by.

A retrain on nearly the same data refits nearly the same model, but every refitted
number moves by chance, and every user near a cut-off can cross it. So a retrain
keeps what the replaced models fitted (the graph model's candidate and calibration,
the scorecard's weights) unless tonight's fit is better beyond the noise:
:data:`INCUMBENT_MARGIN_SE` standard errors of the users' paired differences
(:func:`paired_margin_se`). What is kept must have been fitted on the same users
with the same outcomes (:func:`outcomes_fingerprint`): new outcomes are what a
retrain is for.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

__all__ = ["INCUMBENT_MARGIN_SE", "outcomes_fingerprint", "paired_margin_se"]

#: Standard errors by which tonight's fit must beat the incumbent's to replace it.
INCUMBENT_MARGIN_SE = 2.0


def paired_margin_se(diff: np.ndarray) -> float:
    """The mean of the users' paired differences ``diff`` (positive: tonight's fit is
    better), in standard errors of that mean; 0 when they cannot tell (one user, or
    no spread)."""
    diff = np.asarray(diff, dtype=np.float64)
    se = float(diff.std(ddof=1)) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return float(diff.mean()) / se if se > 0 else 0.0


def outcomes_fingerprint(user_ids: pd.Series | pd.Index, y: np.ndarray) -> str:
    """A short hash of users (their ids) and their outcomes."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(user_ids, index=False).to_numpy().tobytes())
    digest.update(np.asarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]
