"""``Explanation``: why one user scored as it did, and how a terminal shows it.

:meth:`riskgraph.FeatureProvider.explain` returns one; ``riskgraph explain USER_ID``
prints it with :func:`render_explanation`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["Explanation", "render_explanation"]

_DECISION_STYLE = {"approve": "bold green", "review": "bold yellow", "decline": "bold red"}
_VIA = {
    "device": "shared device",
    "account": "shared account",
    "social": "social tie",
    "application_device": "applied from the same device",
}


@dataclass(frozen=True)
class Explanation:
    """Score, decision and reasons of one user, with the risky links behind them.

    Attributes
    ----------
    user_id : str
    run_date : datetime.date or None
        Date of the nightly run the answer comes from.
    credit_score : int
        350-950, higher is better.
    risk_score : float
        Probability of going bad.
    gnn_risk : float or None
        The GNN's own probability.
    decision : str
        approve, review or decline.
    multi_borrowing : bool
    ring_id : str or None
        The flagged ring the user belongs to.
    reasons : list of str
        Up to three, most important first.
    associations : pd.DataFrame
        ``other_user_id``, ``via_type``, ``via_id``, ``score``, strongest first.
    """

    user_id: str
    run_date: dt.date | None
    credit_score: int
    risk_score: float
    gnn_risk: float | None
    decision: str
    multi_borrowing: bool
    ring_id: str | None
    reasons: list[str]
    associations: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (associations as a list of records)."""
        return {
            "user_id": self.user_id,
            "run_date": None if self.run_date is None else self.run_date.isoformat(),
            "credit_score": self.credit_score,
            "risk_score": self.risk_score,
            "gnn_risk": self.gnn_risk,
            "decision": self.decision,
            "multi_borrowing": self.multi_borrowing,
            "ring_id": self.ring_id,
            "reasons": list(self.reasons),
            "associations": self.associations.astype(object)
            .where(self.associations.notna(), None)
            .to_dict(orient="records"),
        }


def render_explanation(explanation: Explanation, max_links: int = 10) -> Group:
    """A rich renderable: a header panel, the reasons, and a table of risky links.

    Parameters
    ----------
    explanation : Explanation
    max_links : int, default 10
        Strongest links shown; the rest are counted.
    """
    e = explanation
    header = Text()
    header.append(f"{e.user_id}  ", style="bold")
    header.append(f"credit score {e.credit_score}  ", style="bold")
    header.append(e.decision.upper(), style=_DECISION_STYLE.get(e.decision, "bold"))
    header.append(f"\nprobability of going bad {e.risk_score:.1%}")
    if e.gnn_risk is not None:
        header.append(f"   network (GNN) risk {e.gnn_risk:.1%}")
    flags = []
    if e.ring_id:
        flags.append(f"member of flagged ring {e.ring_id}")
    if e.multi_borrowing:
        flags.append("multi-borrowing")
    if flags:
        header.append("\n" + "; ".join(flags), style="yellow")
    run = f"run {e.run_date.isoformat()}" if e.run_date else "latest run"

    reasons = Text()
    if e.reasons:
        for i, reason in enumerate(e.reasons, 1):
            reasons.append(f"{i}. {reason}\n")
    else:
        reasons.append("No factor lowered this score.\n", style="green")

    parts: list[Any] = [
        Panel(header, title=f"riskgraph explain ({run})", expand=False),
        Text("Reasons (what lowered the score most)", style="bold underline"),
        reasons,
    ]
    links = e.associations
    if len(links):
        table = Table(title="Risky links", show_lines=False)
        table.add_column("other user")
        table.add_column("via")
        table.add_column("identifier", overflow="fold")
        table.add_column("score", justify="right")
        for row in links.head(max_links).itertuples(index=False):
            table.add_row(
                str(row.other_user_id),
                _VIA.get(str(row.via_type), str(row.via_type)),
                "" if pd.isna(row.via_id) else str(row.via_id),
                f"{float(row.score):.3f}",
            )
        parts.append(table)
        if len(links) > max_links:
            parts.append(Text(f"... and {len(links) - max_links} more links"))
    else:
        parts.append(Text("No high-risk links.", style="green"))
    return Group(*parts)
