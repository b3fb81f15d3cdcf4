"""``FeatureProvider``: the nightly results, for the credit-decision service.

The service imports riskgraph and asks, per application or per batch, for a user's
graph features, score and reasons::

    from riskgraph import FeatureProvider
    fp = FeatureProvider("OUT")          # the run OUT/latest points at
    fp.features(["u1", "u2"])            # DataFrame indexed by user_id
    fp.scores(["u1"])                    # the scores.parquet columns
    fp.explain("u1")                     # reasons and risky links of one user
    fp.score(tables, record=False)       # applicants scored against the live graph

A provider reads one complete run, the one ``OUT/latest`` points at when it is
opened, and keeps answering from it (a consistent snapshot) until :meth:`refresh`
moves it to the newest complete run. Each table is read once, on first use, and
indexed by ``user_id``, so a lookup of 10,000 ids is a hash probe and a ``take``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import ProviderError
from riskgraph.explain import Explanation
from riskgraph.runs import RUN_MANIFEST, OutputRoot

__all__ = ["FeatureProvider"]

_SCORES = "scores.parquet"
_FEATURES = "features.parquet"
_ASSOCIATIONS = "associations.parquet"
# Missing ids named in an error message; the rest are counted.
_NAMED_MISSING = 10


class _Table:
    """A parquet table of one run, indexed by ``user_id`` (unique)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ProviderError(f"{path}: missing from the run")
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise ProviderError(f"{path}: cannot be read ({exc})") from exc
        if "user_id" not in frame.columns:
            raise ProviderError(f"{path}: no column 'user_id'")
        index = pd.Index(frame.pop("user_id").astype(str).to_numpy(dtype=object), name="user_id")
        if index.has_duplicates:
            raise ProviderError(f"{path}: duplicate user_id {index[index.duplicated()][0]!r}")
        frame.index = index
        # Build the hash table now, not on the first caller's clock.
        index.get_indexer(index[:1])
        self.path = path
        self.frame = frame

    def take(self, ids: Iterable[str], what: str) -> pd.DataFrame:
        wanted = _as_ids(ids)
        position = self.frame.index.get_indexer(wanted)
        if (position < 0).any():
            missing = wanted[position < 0]
            named = ", ".join(repr(u) for u in missing[:_NAMED_MISSING])
            more = (
                f" and {len(missing) - _NAMED_MISSING} more"
                if len(missing) > _NAMED_MISSING
                else ""
            )
            raise ProviderError(
                f"{what}: {len(missing)} of {len(wanted)} user ids not in the run "
                f"{self.path.parent.name}: {named}{more}"
            )
        out = self.frame.take(position)
        out.index = pd.Index(wanted, name="user_id")
        return out


class FeatureProvider:
    """Graph features, scores and explanations of the latest complete nightly run.

    Parameters
    ----------
    out_root : str or Path
        The nightly job's output root (``OUT``, holding ``latest`` and ``runs/``).
    connection : ConnectionSettings, optional
        Neo4j for :meth:`score` (default: the nightly job's,
        :func:`~riskgraph.graph.connection.resolve_connection`).
    hmac_key : bytes, optional
        The account-id pseudonymization key for :meth:`score` (default: the nightly
        job's, ``$RISKGRAPH_HMAC_KEY`` or the config file's).
    online : OnlineConfig, optional
        Settings of the online scorer (:class:`riskgraph.online.OnlineConfig`).

    Raises
    ------
    ProviderError
        When ``out_root`` has no complete run.

    Examples
    --------
    >>> fp = FeatureProvider("OUT")  # doctest: +SKIP
    >>> fp.scores(["U0000001"])[["credit_score", "decision"]]  # doctest: +SKIP
    """

    def __init__(
        self,
        out_root: str | Path,
        *,
        connection: Any = None,
        hmac_key: bytes | None = None,
        online: Any = None,
    ) -> None:
        self._root = OutputRoot(out_root)
        # What :meth:`score` needs, resolved on its first call (the batch lookups
        # never connect to Neo4j).
        self._connection = connection
        self._hmac_key = hmac_key
        self._online_config = online
        self._scorer: Any = None
        self._driver: Any = None
        self._open()

    def _open(self) -> None:
        run = self._root.latest_run()
        if run is None:
            dates = self._root.completed_dates()
            hint = (
                f"; complete runs exist for {dates[-1]} but 'latest' does not point at one"
                if dates
                else "; run `riskgraph nightly --input DIR --out OUT` first"
            )
            raise ProviderError(f"{self._root.root}: no complete nightly run{hint}")
        self._run = run
        self._tables: dict[str, _Table] = {}
        self._associations: pd.DataFrame | None = None
        self._manifest: dict[str, Any] | None = None

    # -- what is open ----------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """The run directory answered from (``OUT/runs/<date>``)."""
        return self._run

    @property
    def run_date(self) -> dt.date | None:
        """Date of the run answered from (None if its directory is not a date)."""
        try:
            return dt.date.fromisoformat(self._run.name)
        except ValueError:
            return None

    @property
    def manifest(self) -> dict[str, Any]:
        """The run's ``run.json``."""
        if self._manifest is None:
            path = self._run / RUN_MANIFEST
            try:
                self._manifest = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ProviderError(f"{path}: cannot be read ({exc})") from exc
        return self._manifest

    def preload(self) -> FeatureProvider:
        """Read and index every table now (a service calls this at start-up, so that
        no request pays the first read); return ``self``."""
        self._table(_FEATURES)
        self._table(_SCORES)
        self._association_table()
        return self

    def refresh(self) -> bool:
        """Move to the run ``latest`` points at now; True when it changed."""
        before = self._run
        self._open()
        if self._run != before:
            self._scorer = None
        return self._run != before

    def close(self) -> None:
        """Close the Neo4j driver :meth:`score` opened, if any."""
        if self._driver is not None:
            self._driver.close()
        self._driver = self._scorer = None

    # -- online ----------------------------------------------------------------
    def score(
        self, tables: dict[str, pd.DataFrame], record: bool = False, as_of: Any = None
    ) -> pd.DataFrame:
        """Score applicants the run never saw, against the live Neo4j graph.

        See :class:`riskgraph.online.OnlineScorer` (the one code path with the
        nightly job). The connection and key default to the nightly job's
        (:func:`~riskgraph.graph.connection.resolve_connection`, ``$RISKGRAPH_HMAC_KEY``).

        Parameters
        ----------
        tables : dict of str to DataFrame
            Input-contract tables of the applicants: ``users`` and any of
            ``user_devices``, ``user_accounts``, ``social``, ``applications``.
        record : bool, default False
            Write the applicants and their edges into Neo4j (idempotent by id).
        as_of : timestamp, optional
            "Now"; default just after the request's latest timestamp.

        Returns
        -------
        pd.DataFrame
            One row per ``users`` row: the scores.parquet columns, the velocity
            columns and ``risky_links``.

        Raises
        ------
        InputError
            Naming table, row and column of a row that breaks the contract.
        Neo4jUnavailableError
            When Neo4j does not answer.
        """
        return self.online_scorer().score(tables, record=record, as_of=as_of)

    def online_scorer(self) -> Any:
        """The :class:`~riskgraph.online.OnlineScorer` of the open run (opened once)."""
        if self._scorer is None:
            from riskgraph.config import find_config_file, read_config_file, resolve_hmac_key
            from riskgraph.graph.connection import open_driver, resolve_connection
            from riskgraph.online import OnlineScorer

            if self._hmac_key is None:
                self._hmac_key = resolve_hmac_key(None, read_config_file(find_config_file()))
            if self._driver is None:
                self._connection = self._connection or resolve_connection()
                self._driver = open_driver(self._connection)
            self._scorer = OnlineScorer(
                self._run,
                self._root.model_dir,
                self._driver,
                hmac_key=self._hmac_key,
                database=getattr(self._connection, "database", "neo4j"),
                config=self._online_config,
            )
        return self._scorer

    # -- lookups ---------------------------------------------------------------
    def features(self, user_ids: Iterable[str]) -> pd.DataFrame:
        """Graph features of ``user_ids``.

        Parameters
        ----------
        user_ids : iterable of str
            ``(m,)`` ids, any order, repeats allowed.

        Returns
        -------
        pd.DataFrame
            ``(m, n_features)``, indexed by ``user_id`` in the order asked.

        Raises
        ------
        ProviderError
            Naming the ids that are not in the run.
        """
        return self._table(_FEATURES).take(user_ids, "features")

    def scores(self, user_ids: Iterable[str]) -> pd.DataFrame:
        """The ``scores.parquet`` row of each of ``user_ids``: ``(m, 9)``, indexed by
        ``user_id`` in the order asked.

        Raises
        ------
        ProviderError
            Naming the ids that are not in the run.
        """
        return self._table(_SCORES).take(user_ids, "scores")

    def associations(self, user_id: str) -> pd.DataFrame:
        """The high-risk associations of one user (``other_user_id``, ``via_type``,
        ``via_id``, ``score``), strongest first; empty when it has none."""
        assoc = self._association_table()
        # Sorted by user_id on load: one user's rows are a contiguous slice.
        keys = assoc["user_id"].to_numpy()
        start = int(np.searchsorted(keys, str(user_id), side="left"))
        stop = int(np.searchsorted(keys, str(user_id), side="right"))
        rows = assoc.iloc[start:stop].drop(columns="user_id")
        return rows.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)

    def explain(self, user_id: str) -> Explanation:
        """Why ``user_id`` scored as it did: score, decision, reasons, flags, risky links.

        Raises
        ------
        ProviderError
            When the user is not in the run.
        """
        row = self.scores([user_id]).iloc[0]
        reasons = [
            str(row[c])
            for c in ("reason_1", "reason_2", "reason_3")
            if c in row.index and not pd.isna(row[c])
        ]
        ring_id = row.get("ring_id")
        return Explanation(
            user_id=str(user_id),
            run_date=self.run_date,
            credit_score=int(row["credit_score"]),
            risk_score=float(row["risk_score"]),
            gnn_risk=_float_or_none(row.get("gnn_risk")),
            decision=str(row["decision"]),
            multi_borrowing=bool(row.get("multi_borrowing", False)),
            ring_id=None if ring_id is None or pd.isna(ring_id) else str(ring_id),
            reasons=reasons,
            associations=self.associations(str(user_id)),
        )

    # -- loading ---------------------------------------------------------------
    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            table = _Table(self._run / name)
            self._tables[name] = table
        return table

    def _association_table(self) -> pd.DataFrame:
        if self._associations is None:
            path = self._run / _ASSOCIATIONS
            columns = ["user_id", "other_user_id", "via_type", "via_id", "score"]
            if not path.is_file():
                # A run whose GNN found no risky link may write none.
                self._associations = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            else:
                try:
                    frame = pd.read_parquet(path)
                except Exception as exc:
                    raise ProviderError(f"{path}: cannot be read ({exc})") from exc
                absent = [c for c in columns if c not in frame.columns]
                if absent:
                    raise ProviderError(f"{path}: missing columns {absent}")
                frame["user_id"] = frame["user_id"].astype(str).to_numpy(dtype=object)
                self._associations = frame.sort_values("user_id", kind="stable", ignore_index=True)
        return self._associations


def _as_ids(ids: Iterable[str]) -> np.ndarray:
    """``ids`` as an object array of str (a bare string is refused: it is iterable)."""
    if isinstance(ids, str):
        raise ProviderError(f"user ids must be a list of ids, got the single string {ids!r}")
    return (
        pd.Index(list(ids) if not isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else ids)
        .astype(str)
        .to_numpy(dtype=object)
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
