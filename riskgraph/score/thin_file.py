"""``ThinFileRule``: who has no credit history, and what the scorecard does about it.

A thin-file applicant (no credit history, "credit invisible") has no past loans, no
past dues and no utilization to show. Left to the binning, those gaps would land in
each attribute's missing-value bin, the thin-file effect would be smeared over four
collinear bins, and the applicant would be told "past dues: missing" as a reason.

The rule makes it explicit instead:

* ``no_credit_history`` (0/1) is added as a model variable of its own; it carries
  the whole thin-file effect and has its own reason, "no credit history yet";
* for thin-file users, the credit-history attributes are "not applicable": they
  are set to missing, and the scorecard gives their missing bins the neutral weight
  of evidence 0 (the population average), so they neither add nor take points;
* in the reason codes, the points a thin-file user lacks on those attributes are
  counted under "no credit history yet" (it is why they lack them).

A single scorecard with an indicator was chosen over a separate thin-file segment
scorecard because the thin-file share (about 15%) is too small a sample at a bad rate
of a few percent to fit a second model reliably every night, and because one
scorecard puts both groups on exactly the same points scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["NO_CREDIT_HISTORY", "ThinFileRule"]

#: Name of the indicator variable the rule adds.
NO_CREDIT_HISTORY = "no_credit_history"


@dataclass(frozen=True)
class ThinFileRule:
    """Which attributes make up a credit history, and when a user has none.

    A user is thin-file when every history column present in the data is missing,
    counting a value of 0 in a ``zero_means_none`` column as missing (0 months of
    history is no history). When none of the history columns is present, the rule
    does not apply and no indicator is added.

    Parameters
    ----------
    history_columns : tuple of str
        User attributes that exist only for users with a credit history.
    zero_means_none : tuple of str
        History columns where 0 means "no history" rather than a value.

    Examples
    --------
    >>> users = pd.DataFrame({"credit_history_months": [0.0, 24.0], "past_dues": [np.nan, 1.0]})
    >>> ThinFileRule().is_thin(users).tolist()
    [True, False]
    """

    history_columns: tuple[str, ...] = (
        "credit_history_months",
        "past_loans",
        "past_dues",
        "utilization",
    )
    zero_means_none: tuple[str, ...] = ("credit_history_months",)

    def present(self, columns: pd.Index | list[str]) -> list[str]:
        """The history columns found among ``columns``, in rule order."""
        have = set(columns)
        return [c for c in self.history_columns if c in have]

    def applies(self, columns: pd.Index | list[str]) -> bool:
        """Whether any history column is present."""
        return bool(self.present(columns))

    def is_thin(self, frame: pd.DataFrame) -> np.ndarray:
        """``bool`` ``(n,)``: rows with no credit history.

        All False when no history column is present.
        """
        return self.applied(frame)[NO_CREDIT_HISTORY].astype(bool)

    def applied(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The history columns present in ``frame`` as float64 arrays, missing for
        thin-file rows, and ``no_credit_history`` (float64 0/1; all 0 when no history
        column is present)."""
        present = self.present(frame.columns)
        values = {
            column: pd.to_numeric(frame[column], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan, copy=True
            )
            for column in present
        }
        has_history = np.zeros(len(frame), dtype=bool)
        for column, column_values in values.items():
            known = ~np.isnan(column_values)
            if column in self.zero_means_none:
                known &= column_values != 0
            has_history |= known
        thin = ~has_history if present else has_history
        for column_values in values.values():
            column_values[thin] = np.nan
        return {**values, NO_CREDIT_HISTORY: thin.astype(np.float64)}

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with ``no_credit_history`` added and the history
        columns of thin-file rows set to missing.

        Returns ``frame`` unchanged (a copy) when the rule does not apply.
        """
        out = frame.copy()
        if not self.applies(frame.columns):
            return out
        for column, values in self.applied(frame).items():
            out[column] = values
        return out
