"""Online scoring: an application scored at application time, against the live graph.

:meth:`riskgraph.FeatureProvider.score` delegates here. For a request (the ``users``
rows of the applicants and their rows of the other input tables) the scorer:

1. validates the rows against the input contract, ties to users the graph already
   holds included; the first broken row raises one :class:`InputError` naming the
   table, row and column, and nothing is scored or recorded;
2. looks the applicants' neighbourhood up in Neo4j (:mod:`riskgraph.graph.live`): who
   else uses their devices and accounts, their contacts' ties, the applications filed
   from those devices and by those users, including today's;
3. unions last night's graph (read from Neo4j once, when the scorer opens), the live
   rows and the request into one :class:`~riskgraph.loaders.GraphTables` and runs the
   nightly job's own feature and scoring code on it (:func:`compute_graph_features`,
   :meth:`RiskModels.score`, :func:`decide` with the cut-offs last night resolved), as
   of the request's own latest timestamp: a user of last night's graph with nothing new
   gets last night's scores;
4. adds the velocity signals only the live graph has (applications from the same
   device, account holders and contacts in the last hour and day, new users on the
   same account today) as columns, reasons and decision rules;
5. with ``record=True``, writes the applicants and their edges into Neo4j (upserts by
   id: recording twice is recording once), so that the next applicant sees them.

By default the feature and model code runs on the whole merged graph, so that the
features that reach beyond a few hops (personalised PageRank, rings, communities) are
the batch ones, at the cost of a full feature pass per call; ``OnlineConfig(scope=
"neighbourhood")`` runs it on the applicants' few-hop neighbourhood instead
(docs/online.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.config import dataclass_from_mapping
from riskgraph.errors import ConfigError, InputError, ProviderError
from riskgraph.graph.features import compute_graph_features
from riskgraph.graph.features.catalog import FEATURE_CATALOG, FEATURE_CODES
from riskgraph.graph.live import LiveLookup, known_users, live_neighbourhood
from riskgraph.loaders import GraphTables, build_graph_tables
from riskgraph.loaders.merge import IdRows, graph_from_id_rows, id_rows, merge_id_rows, named_ids
from riskgraph.loaders.neighbourhood import IDENTIFIER_NODES, NeighbourhoodIndex, neighbourhood
from riskgraph.loaders.schema import (
    INPUT_TABLES,
    NODE_TYPES,
)
from riskgraph.modeling import RiskModels
from riskgraph.pipeline import PipelineConfig, _without_protected
from riskgraph.runs import RUN_MANIFEST
from riskgraph.score import decide

__all__ = [
    "VELOCITY_COLUMNS",
    "OnlineConfig",
    "OnlineScorer",
    "VelocityRules",
    "apply_online_rules",
    "neighbourhood",
    "velocity_signals",
]

log = logging.getLogger("riskgraph.online")

#: Input tables an online call may carry (the input contract's).
SCOPES = ("graph", "neighbourhood")

REQUEST_TABLES = tuple(INPUT_TABLES)

#: Columns the online answer adds to the scores.parquet ones (README, "Online scoring").
VELOCITY_COLUMNS = (
    "device_applications_1h",
    "device_applications_1d",
    "account_applications_1h",
    "account_applications_1d",
    "contact_applications_1d",
    "account_new_users_1d",
)

# Links to known-bad users the online rules name (graph features, 1 hop).
_BAD_LINKS = ("device_bad_1hop", "account_bad_1hop", "app_device_bad_1hop", "social_bad_1hop")
_SEVERITY = {"approve": 0, "review": 1, "decline": 2}
# Timestamp columns whose latest value is the request's "now" (not when a label
# became known: that is no event of the request's).
_REQUEST_TIMES = {
    name: tuple(c.name for c in spec.columns if c.kind == "timestamp" and c.name != "label_at")
    for name, spec in INPUT_TABLES.items()
}


@dataclass(frozen=True)
class VelocityRules:
    """Decision rules on the live velocity signals (config table ``[online.velocity]``).

    Each threshold counts the applicant's own application or registration; 0 turns
    the rule off.

    Parameters
    ----------
    device_hour_decline : int, default 4
        Decline the Nth application from one device within an hour.
    device_day_decline : int, default 10
        Decline the Nth application from one device within a day.
    account_day_review : int, default 5
        Review the Nth application within a day by the holders of one account.
    account_new_users_review : int, default 3
        Review the Nth user registered within a day on one account (card, phone).
    contact_day_review : int, default 6
        Review when the applicant's contacts filed N applications within a day.
    """

    device_hour_decline: int = 4
    device_day_decline: int = 10
    account_day_review: int = 5
    account_new_users_review: int = 3
    contact_day_review: int = 6

    def validate(self) -> VelocityRules:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"online.velocity.{f.name} = {value!r}: expected an integer >= 0 "
                    "(0 turns the rule off)"
                )
        return self


@dataclass(frozen=True)
class OnlineConfig:
    """Settings of the online scorer.

    Parameters
    ----------
    lookup : LiveLookup
        Bounds of the live neighbourhood lookup.
    velocity : VelocityRules
    risky_links_top_k : int, default 5
        Risky links returned per applicant under review or declined.
    scope : {"graph", "neighbourhood"}, default "graph"
        What the feature and model code runs on. ``"graph"``: the whole live graph,
        so every feature equals the batch one (a full feature pass per call).
        ``"neighbourhood"``: the applicants' users within ``hops`` hops (through
        shared devices, accounts, application devices and ties; hubs not crossed),
        a pass over a few hundred users; the features within those hops are the
        batch ones, while those that reach further (personalised PageRank, rings,
        communities, the population's burst thresholds) see the neighbourhood only
        (docs/online.md measures the difference).
    hops : int, default 2
        Hops of the ``"neighbourhood"`` scope.
    known_bad_review : bool, default True
        Review, with the link as first reason, an applicant last night's run did not
        score who shares a device, account, contact or application device with a
        user known to be bad: the scorecard may rank a thin-file applicant's other
        reasons first, and a lender wants that link named.
    """

    lookup: LiveLookup = field(default_factory=LiveLookup)
    velocity: VelocityRules = field(default_factory=VelocityRules)
    risky_links_top_k: int = 5
    known_bad_review: bool = True
    scope: str = "graph"
    hops: int = 2

    def validate(self) -> OnlineConfig:
        """Check the settings; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting and what is allowed.
        """
        self.velocity.validate()
        if self.scope not in SCOPES:
            raise ConfigError(f"online.scope = {self.scope!r}: expected one of {list(SCOPES)}")
        if not isinstance(self.hops, int) or self.hops < 1:
            raise ConfigError(f"online.hops = {self.hops!r}: expected an integer >= 1")
        return self


class OnlineScorer:
    """Scores applicants against the live graph with the saved models of one run.

    Parameters
    ----------
    run_dir : Path
        The run answered from (its ``run.json`` gives the settings, ``as_of`` and
        the decision cut-offs).
    model_dir : Path
        The saved models (``OUT/model``).
    driver : neo4j.Driver
        Open driver to the graph the nightly job writes.
    hmac_key : bytes
        Pseudonymization key of the account ids (the nightly job's).
    database : str, default "neo4j"
    config : OnlineConfig, optional

    Raises
    ------
    ProviderError
        When the run's ``run.json`` or the saved models cannot be read.
    """

    def __init__(
        self,
        run_dir: Path,
        model_dir: Path,
        driver: Any,
        *,
        hmac_key: bytes,
        database: str = "neo4j",
        config: OnlineConfig | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.driver = driver
        self.database = database
        self.hmac_key = hmac_key
        self.config = (config or OnlineConfig()).validate()
        path = self.run_dir / RUN_MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProviderError(f"{path}: cannot be read ({exc})") from exc
        self.pipeline = dataclass_from_mapping(PipelineConfig, manifest.get("config"), str(path))
        self.run_as_of = pd.Timestamp(manifest["as_of"])
        self.model_version = str(manifest["model_version"])
        cutoffs = manifest["cutoffs"]
        # The cut-offs last night's targets resolved to: one applicant has no
        # distribution to resolve a target on.
        self.policy = dataclasses.replace(
            self.pipeline.decisions,
            approve_from=cutoffs["approve_from"],
            decline_below=cutoffs["decline_below"],
        )
        try:
            self.models = RiskModels.load(model_dir, self.pipeline.features)
        except Exception as exc:
            raise ProviderError(f"{model_dir}: the saved models cannot be read ({exc})") from exc
        self._base_index: NeighbourhoodIndex | None = None
        self._lock = threading.Lock()
        self._scoring = threading.Lock()

    # -- the graph -------------------------------------------------------------------
    def base_rows(self) -> IdRows:
        """Last night's graph as id-keyed rows, read from Neo4j on first use."""
        return self.base_index().source

    def base_index(self) -> NeighbourhoodIndex:
        """:meth:`base_rows` indexed for the neighbourhood walk (opened with them; the
        walk's structures are built by the first walk): a call's walk and lookups cost
        what its neighbourhood holds, not the graph."""
        with self._lock:
            if self._base_index is None:
                from riskgraph.graph.reader import read_graph

                rows = id_rows(read_graph(self.driver, database=self.database))
                self._base_index = NeighbourhoodIndex(rows, self.config.lookup.cap)
            return self._base_index

    def open(self) -> OnlineScorer:
        """Read last night's graph now and, on the ``"neighbourhood"`` scope, build the
        walk's structures (a service calls this at start-up, so that no request pays
        them); return ``self``."""
        index = self.base_index()
        if self.config.scope == "neighbourhood":
            index.prepare()
        return self

    # -- scoring ---------------------------------------------------------------------
    def score(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        record: bool = False,
        as_of: Any = None,
    ) -> pd.DataFrame:
        """Score the ``users`` rows of ``tables``; see the module docstring.

        Parameters
        ----------
        tables : mapping of str to DataFrame
            Input-contract tables: ``users`` required, ``user_devices``,
            ``user_accounts``, ``social``, ``applications`` optional.
        record : bool, default False
            Write the applicants and their edges into Neo4j after scoring.
        as_of : timestamp, optional
            "Now" (events strictly before it exist). Default: just after the
            request's latest timestamp, and no earlier than the run's ``as_of``.

        Returns
        -------
        pd.DataFrame
            One row per ``users`` row, in request order: the scores.parquet columns,
            then :data:`VELOCITY_COLUMNS` and ``risky_links`` (a list of
            ``{other_user_id, via_type, via_id, score}``).

        Raises
        ------
        InputError
            Naming the table, row and column of the first row that breaks the contract.
        Neo4jUnavailableError
            When Neo4j does not answer.
        """
        # One call at a time: the models and the cached graph are shared, and the
        # feature pass already uses every core.
        with self._scoring:
            return self._score(tables, record, as_of)

    def _score(self, tables: Mapping[str, pd.DataFrame], record: bool, as_of: Any) -> pd.DataFrame:
        request, stubs, applicant_ids = self._validate(tables)
        request["users"] = _typed_like(request["users"], self.base_rows()["users"])
        now = self._now(request) if as_of is None else _utc(as_of)
        live = live_neighbourhood(
            self.driver,
            user_ids=[*applicant_ids, *stubs],
            identifier_ids={n: named_ids(request, n) for n in IDENTIFIER_NODES},
            lookup=self.config.lookup,
            database=self.database,
        )
        base = self.base_rows()
        if self.config.scope == "neighbourhood":
            # The live rows are the users one hop from the request's identifiers.
            seeds = [*applicant_ids, *stubs, *live["users"]["user_id"].astype(str)]
            index = self.base_index()
            base = index.rows(index.walk(seeds, self.config.hops))
        # Later parts win: the request over last night's graph over the live rows
        # (which carry no user attributes).
        merged = merge_id_rows([live, base, request])
        graph = graph_from_id_rows(merged)
        scores = self._score_graph(graph, applicant_ids, now)
        if record:
            self._record(merged, request, stubs)
        return scores

    def _score_graph(
        self, graph: GraphTables, applicant_ids: list[str], now: pd.Timestamp
    ) -> pd.DataFrame:
        cfg = self.pipeline
        features = compute_graph_features(graph, now, config=cfg.features)
        model_tables = _without_protected(graph, cfg.fairness.protected)
        positions = pd.Index(graph.users["user_id"]).get_indexer(applicant_ids)
        scored = self.models.score(model_tables, now, features, self.policy, rows=positions)
        scores = scored.result.scores.reset_index(drop=True)
        flags = scored.result.flags.reset_index(drop=True)
        scores["decision"] = decide(
            scores["credit_score"].to_numpy(),
            ring_member=flags["ring_member"].to_numpy(),
            intermediary_client=flags["intermediary_client"].to_numpy(),
            multi_borrowing=flags["multi_borrowing"].to_numpy(),
            policy=self.policy,
        )
        scores["as_of"] = pd.Series(now, index=scores.index).astype("datetime64[us, UTC]")
        scores["model_version"] = pd.array([self.model_version] * len(scores), dtype="string")
        velocity = velocity_signals(graph, positions, now)
        bad_links = features.features.iloc[positions][list(_BAD_LINKS)].reset_index(drop=True)
        if self.config.known_bad_review:
            # Only applicants the run did not score: a user of last night's graph keeps
            # last night's answer unless something new came in.
            known = self.base_index().users.get_indexer(applicant_ids) >= 0
            bad_links.loc[known, :] = 0
        else:
            bad_links.loc[:, :] = 0
        scores = apply_online_rules(scores, velocity, bad_links, self.config.velocity)
        explained = scores.loc[scores["decision"].isin(cfg.risk_links.decisions), "user_id"]
        links = self.models.risky_links(
            model_tables,
            now,
            explained.astype(str).tolist(),
            scored.gnn_views,
            top_k=self.config.risky_links_top_k,
            inputs=scored.inputs,
        )
        scores["risky_links"] = _links_per_user(links, scores["user_id"])
        return scores

    # -- request checks ---------------------------------------------------------------
    def _validate(self, tables: Mapping[str, pd.DataFrame]) -> tuple[IdRows, list[str], list[str]]:
        """The request as id-keyed rows (accounts pseudonymized), the ids of the
        graph's users its ties name, and the applicants' ids in request order.

        Raises
        ------
        InputError
            An unknown table, a missing ``users`` or required column, or the first
            row the contract rejects.
        """
        unknown = sorted(set(tables) - set(REQUEST_TABLES))
        if unknown:
            raise InputError(f"unknown tables {unknown}; expected some of {list(REQUEST_TABLES)}")
        if "users" not in tables or tables["users"] is None or not len(tables["users"]):
            raise InputError("users: no rows; an online call scores the users rows it carries")
        frames = {n: pd.DataFrame(t).reset_index(drop=True) for n, t in tables.items()}
        applicants = set(frames["users"].get("user_id", pd.Series(dtype=object)).astype(str))
        named = {
            str(v)
            for name, frame in frames.items()
            for c in INPUT_TABLES[name].user_references
            if c in frame.columns
            for v in frame[c].dropna()
        } - applicants
        stubs = known_users(self.driver, named, self.database) if named else None
        users = frames["users"]
        if stubs is not None and len(stubs):
            # The graph's users the ties name, so that the contract's "unknown user"
            # rule accepts them; their rows are not the request's.
            extra = pd.DataFrame(
                {
                    "user_id": stubs["user_id"].astype(str),
                    "registered_at": stubs["registered_at"].map(
                        lambda t: "" if pd.isna(t) else t.isoformat()
                    ),
                }
            )
            users = pd.concat([users, extra], ignore_index=True)
        loaded = build_graph_tables({**frames, "users": users}, hmac_key=self.hmac_key)
        rejected = [(n, r) for n, r in loaded.rejects.items() if len(r)]
        if rejected:
            total = sum(len(r) for _, r in rejected)
            name, rows = rejected[0]
            first = rows.iloc[0]
            more = f" ({total - 1} more rows rejected)" if total > 1 else ""
            raise InputError(f"{name} row {int(first['line'])}: {first['reason']}{more}")
        rows = id_rows(loaded.tables)
        keep = rows["users"]["user_id"].isin(list(applicants)).to_numpy(dtype=bool)
        rows["users"] = rows["users"].loc[keep].reset_index(drop=True)
        stub_ids = [] if stubs is None else stubs["user_id"].astype(str).tolist()
        return rows, stub_ids, frames["users"]["user_id"].astype(str).str.strip().tolist()

    def _now(self, request: IdRows) -> pd.Timestamp:
        """Just after the request's latest timestamp, no earlier than the run's as_of."""
        latest = self.run_as_of
        for name, columns in _REQUEST_TIMES.items():
            frame = request.get(name)
            if frame is None or not len(frame):
                continue
            for column in columns:
                value = frame[column].max()
                if not pd.isna(value):
                    latest = max(latest, pd.Timestamp(value) + pd.Timedelta(microseconds=1))
        return latest

    # -- recording -------------------------------------------------------------------
    def _record(self, merged: IdRows, request: IdRows, stubs: list[str]) -> None:
        """Upsert the applicants, their edges and applications into Neo4j; the users
        their ties name are written with the values the graph holds (unchanged)."""
        from riskgraph.graph.batches import WriteSettings
        from riskgraph.graph.writer import write_graph

        ids = set(request["users"]["user_id"].astype(str)) | set(stubs)
        users = merged["users"]
        part: IdRows = {
            # The request's own rows (edges, applications); its identifiers' node rows as
            # the merged graph holds them (an account's type), the rest rebuilt from them.
            **{n: f for n, f in request.items() if n not in NODE_TYPES or NODE_TYPES[n].source},
            **{
                n: _rows_of(merged, n, named_ids(request, n))
                for n in IDENTIFIER_NODES
                if n in merged
            },
            "users": users.loc[users["user_id"].isin(list(ids)).to_numpy(dtype=bool)],
        }
        write_graph(
            self.driver, graph_from_id_rows(part), settings=WriteSettings(database=self.database)
        )


def velocity_signals(graph: GraphTables, positions: np.ndarray, now: pd.Timestamp) -> pd.DataFrame:
    """The live velocity counts of the users at ``positions`` as of ``now``.

    Parameters
    ----------
    graph : GraphTables
    positions : np.ndarray
        int ``(m,)`` user positions.
    now : pandas.Timestamp
        Events strictly before it count.

    Returns
    -------
    pd.DataFrame
        ``(m, 6)``: :data:`VELOCITY_COLUMNS` (int64); each count includes the user's
        own applications and registration.
    """
    apps = graph.applications
    applied = apps["applied_at"].to_numpy(dtype="datetime64[us]")
    app_user = apps["user_idx"].to_numpy()
    app_device = apps["device_idx"].to_numpy()
    now64 = np.datetime64(now.tz_convert(None).to_datetime64(), "us")
    before = applied < now64
    last_hour = before & (applied >= now64 - np.timedelta64(1, "h"))
    last_day = before & (applied >= now64 - np.timedelta64(1, "D"))
    ud, ua, so = graph.user_devices, graph.user_accounts, graph.social
    registered = graph.users["registered_at"].to_numpy(dtype="datetime64[us]")
    new_today = (registered < now64) & (registered >= now64 - np.timedelta64(1, "D"))
    out = {c: np.zeros(len(positions), dtype=np.int64) for c in VELOCITY_COLUMNS}
    ud_user, ud_device = ud["user_idx"].to_numpy(), ud["device_idx"].to_numpy()
    ua_user, ua_account = ua["user_idx"].to_numpy(), ua["account_idx"].to_numpy()
    src, dst = so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()
    for row, user in enumerate(positions):
        devices = np.union1d(ud_device[ud_user == user], app_device[app_user == user])
        devices = devices[devices >= 0]
        on_device = np.isin(app_device, devices)
        out["device_applications_1h"][row] = int((on_device & last_hour).sum())
        out["device_applications_1d"][row] = int((on_device & last_day).sum())
        accounts = ua_account[ua_user == user]
        holders = np.union1d(np.unique(ua_user[np.isin(ua_account, accounts)]), [user])
        by_holders = np.isin(app_user, holders)
        out["account_applications_1h"][row] = int((by_holders & last_hour).sum())
        out["account_applications_1d"][row] = int((by_holders & last_day).sum())
        out["account_new_users_1d"][row] = int(new_today[holders].sum()) if len(accounts) else 0
        contacts = np.union1d(dst[src == user], src[dst == user])
        out["contact_applications_1d"][row] = int((np.isin(app_user, contacts) & last_day).sum())
    return pd.DataFrame(out)


def apply_online_rules(
    scores: pd.DataFrame, velocity: pd.DataFrame, bad_links: pd.DataFrame, rules: VelocityRules
) -> pd.DataFrame:
    """``scores`` with the velocity columns, the reasons of the rules that fire first,
    and the decisions they call for (a rule only ever makes a decision stricter).

    Parameters
    ----------
    scores : pd.DataFrame
        The applicants' scores rows.
    velocity : pd.DataFrame
        :func:`velocity_signals` of the same rows.
    bad_links : pd.DataFrame
        The ``<relation>_bad_1hop`` feature columns of the same rows; a positive
        count sends the applicant to review with the feature's reason (zero where
        that rule is not to fire).
    rules : VelocityRules
    """
    scores = pd.concat([scores.reset_index(drop=True), velocity.reset_index(drop=True)], axis=1)
    checks = (
        ("device_applications_1h", rules.device_hour_decline, "decline", "V01",
         "{} application from this device in the last hour"),
        ("device_applications_1d", rules.device_day_decline, "decline", "V02",
         "{} application from this device in the last day"),
        ("account_applications_1d", rules.account_day_review, "review", "V03",
         "{} application in the last day by the holders of this account"),
        ("account_new_users_1d", rules.account_new_users_review, "review", "V04",
         "{} new user on this account (card, phone) today"),
        ("contact_applications_1d", rules.contact_day_review, "review", "V05",
         "contacts filed {} applications in the last day"),
    )  # fmt: skip
    decisions = scores["decision"].astype(str).tolist()
    slots = [
        (f"reason_{k}", f"reason_code_{k}", f"points_lost_{k}")
        for k in range(1, 4)
        if f"reason_{k}" in scores.columns
    ]
    # Read once as lists: a cell at a time from the frame costs more than the rules.
    values = {c: scores[c].tolist() for slot in slots for c in slot if c in scores.columns}
    counts = {column: scores[column].tolist() for column, *_ in checks}
    links = {column: bad_links[column].tolist() for column in _BAD_LINKS}
    # Each row's reasons as (text, code, points lost); a rule's reason loses no points.
    rows: list[list[tuple[Any, Any, Any]]] = [
        [tuple(values[c][row] if c in values else None for c in slot) for slot in slots]
        for row in range(len(scores))
    ]
    for row in range(len(scores)):
        fired: list[tuple[Any, Any, Any]] = []
        for column, threshold, decision, code, text in checks:
            count = int(counts[column][row])
            if threshold and count >= threshold:
                if _SEVERITY[decision] > _SEVERITY[decisions[row]]:
                    decisions[row] = decision
                wording = text.format(str(count) if code == "V05" else _ordinal(count))
                fired.append((wording, code, np.nan))
        for column in _BAD_LINKS:
            count = links[column][row]
            if count > 0:
                if _SEVERITY["review"] > _SEVERITY[decisions[row]]:
                    decisions[row] = "review"
                spec = FEATURE_CATALOG[column]
                fired.append((spec.format_reason(int(count)), FEATURE_CODES[column], np.nan))
        if not fired:
            continue
        named = {text for text, _, _ in fired}
        kept = [r for r in rows[row] if not _missing(r[0]) and r[0] not in named]
        joined = (fired + kept)[: len(slots)]
        rows[row] = joined + [(None, None, np.nan)] * (len(slots) - len(joined))
    scores["decision"] = pd.array(decisions, dtype=scores["decision"].dtype)
    for k, slot in enumerate(slots):
        for part, column in enumerate(slot):
            if column not in scores.columns:
                continue
            cells = [r[k][part] for r in rows]
            dtype = "float64" if part == 2 else "string"
            scores[column] = pd.array(
                [
                    np.nan if part == 2 and _missing(v) else (None if _missing(v) else v)
                    for v in cells
                ],
                dtype=dtype,
            )
    return scores


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _links_per_user(links: pd.DataFrame, user_ids: pd.Series) -> list[list[dict[str, Any]]]:
    by_user: dict[str, list[dict[str, Any]]] = {}
    for rec in links.to_dict(orient="records"):
        by_user.setdefault(str(rec["user_id"]), []).append(
            {
                "other_user_id": str(rec["other_user_id"]),
                "via_type": str(rec["via_type"]),
                "via_id": None if pd.isna(rec["via_id"]) else str(rec["via_id"]),
                "score": float(rec["score"]),
            }
        )
    return [by_user.get(str(u), []) for u in user_ids]


def _typed_like(users: pd.DataFrame, graph_users: pd.DataFrame) -> pd.DataFrame:
    """``users`` with each attribute column typed as the graph types it: a request of a
    few rows cannot tell a number column from a text one (an empty cell types as
    neither), and the models read the graph's types."""
    users = users.copy()
    for column in users.columns.intersection(graph_users.columns):
        dtype = graph_users[column].dtype
        if users[column].dtype == dtype:
            continue
        if pd.api.types.is_float_dtype(dtype):
            users[column] = pd.to_numeric(users[column], errors="coerce").astype(dtype)
        elif str(dtype) == "string":
            users[column] = users[column].astype("string")
    return users


def _rows_of(rows: IdRows, node_table: str, ids: list[str]) -> pd.DataFrame:
    """The rows of node table ``node_table`` with the given ids (all its columns)."""
    frame = rows[node_table]
    key = NODE_TYPES[node_table].key.name
    return frame.loc[frame[key].isin(ids).to_numpy(dtype=bool)]


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
