"""The nightly job: load, upsert, read back, features, model, score, publish.

``run_nightly`` is what ``riskgraph nightly`` and ``riskgraph demo`` call::

    load       validate the input tables (rejects go to the run's rejects/)
    upsert     write them into Neo4j (idempotent MERGE batches)
    read_back  read the whole accumulated graph back from Neo4j
    features   graph risk features as of the run date, every visible label
    model      reuse the saved models, or train them (first run, --retrain)
    score      gnn_risk, credit score, reasons, decisions for tonight's users
    links      risky links (high-risk associations) of the riskiest users
    changes    the watchlist: score moves since the previous run
    report     report.html and run.json
    write_back scores, features, rings and risky links onto the graph
    publish    rename the staging directory to runs/<date>, move latest

Guarantees (DESIGN.md, "Idempotent, atomic runs"): the output root is locked for
the run; nothing is written before Neo4j answers; every output goes to a staging
directory that becomes ``runs/<date>`` in one rename, so a crash at any stage leaves
no partial run and a rerun completes the date; a rerun of a completed date is a
no-op unless forced; the same input twice leaves the same outputs and Neo4j state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskgraph import __version__
from riskgraph.config import dataclass_from_mapping, read_config_file
from riskgraph.errors import ConfigError, OutputError, RunError, StaleModelError
from riskgraph.graph.features import FeatureConfig, GraphFeatures, compute_graph_features
from riskgraph.loaders import GraphTables, load_input, write_rejects
from riskgraph.loaders.permissions import restrict_tree
from riskgraph.loaders.validate import InputWarning
from riskgraph.memory import (
    map_large_allocations,
    peak_rss_gb,
    release_free_memory,
    reset_peak_rss,
)
from riskgraph.modeling import ModelConfig, RiskModels, require_labels
from riskgraph.monitoring import (
    MonitoringConfig,
    WatchlistConfig,
    model_monitoring,
    score_changes,
)
from riskgraph.report import ReportData, render_report
from riskgraph.runs import RUN_MANIFEST, OutputRoot, output_error, write_json_atomic
from riskgraph.score import DecisionPolicy, decide, fairness_report
from riskgraph.score.fairness import FairnessConfig
from riskgraph.score.strategy import (
    ResolvedCutoffs,
    forced_review,
    resolve_cutoffs,
    strategy_table,
)

__all__ = [
    "SCHEMA_VERSION",
    "STAGES",
    "PipelineConfig",
    "RiskLinkConfig",
    "RunResult",
    "run_nightly",
]

log = logging.getLogger("riskgraph.nightly")

STAGES = (
    "load",
    "upsert",
    "read_back",
    "features",
    "model",
    "score",
    "links",
    "changes",
    "report",
    "write_back",
    "publish",
)

#: Version of the outputs' layout (run.json ``schema_version``): raised when a documented
#: output changes in a way a reader must know of (a column or key renamed or removed).
SCHEMA_VERSION = 1

#: The scorecard table written beside the saved models (``OUT/model/scorecard.csv``).
SCORECARD_CSV = "scorecard.csv"

#: Fault injection for the crash-safety tests: the run dies (like ``kill -9``) right
#: after the named stage. Never set it in production.
ENV_CRASH_AFTER = "RISKGRAPH_TEST_CRASH_AFTER"


@dataclass(frozen=True)
class RiskLinkConfig:
    """Which users get risky links (config table ``[risk_links]``).

    Parameters
    ----------
    decisions : tuple of str, default ("review", "decline")
        Users with these decisions get their risky links explained.
    top_k : int, default 5
        Links kept per user, strongest first.
    """

    decisions: tuple[str, ...] = ("review", "decline")
    top_k: int = 5

    def validate(self) -> RiskLinkConfig:
        unknown = sorted(set(self.decisions) - {"approve", "review", "decline"})
        if unknown:
            raise ConfigError(
                f"risk_links.decisions: {unknown} unknown; allowed approve, review, decline"
            )
        if self.top_k < 1:
            raise ConfigError(f"risk_links.top_k = {self.top_k}: expected >= 1")
        return self


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting of the nightly job, one table of the config file per field."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    decisions: DecisionPolicy = field(default_factory=DecisionPolicy)
    watchlist: WatchlistConfig = field(default_factory=WatchlistConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    risk_links: RiskLinkConfig = field(default_factory=RiskLinkConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    @classmethod
    def from_file(cls, path: Path | None) -> PipelineConfig:
        """Read the config file (defaults where it is silent); see :mod:`riskgraph.config`."""
        values = read_config_file(path)
        values.pop("security", None)
        # the online service's tables (riskgraph.serve, riskgraph.online)
        values.pop("serve", None)
        values.pop("online", None)
        config = dataclass_from_mapping(cls, values, str(path) if path else "defaults")
        config.features.validate()
        config.decisions.validate()
        config.watchlist.validate()
        config.risk_links.validate()
        config.model.validate()
        config.fairness.validate()
        config.monitoring.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration, JSON-ready (run.json ``config``; no secret is
        part of it)."""
        return _plain(dataclasses.asdict(self))


@dataclass(frozen=True)
class RunResult:
    """What a call of :func:`run_nightly` did.

    Attributes
    ----------
    status : {"published", "already_complete"}
    run_dir : Path
        ``OUT/runs/<date>``.
    manifest : dict
        The content of run.json (empty when the date was already complete).
    """

    status: str
    run_date: dt.date
    run_dir: Path
    manifest: dict[str, Any]


class _Clock:
    """Stage timings, peak memory, log lines, and the crash hook between stages."""

    def __init__(self, progress: Any | None) -> None:
        self.timings: dict[str, float] = {}
        self.peak_memory_gb: dict[str, float] = {}
        self.progress = progress
        self.crash_after = os.environ.get(ENV_CRASH_AFTER)

    @contextlib.contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        log.info("%s", what, extra={"stage": name})
        task = self.progress.add_task(what, total=None) if self.progress else None
        reset_peak_rss()
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        peak = peak_rss_gb()
        release_free_memory()
        if task is not None:
            self.progress.update(task, total=1, completed=1)
        if peak is None:
            log.info("done in %.1f s", self.timings[name], extra={"stage": name})
        else:
            self.peak_memory_gb[name] = peak
            log.info(
                "done in %.1f s, peak memory %.2f GB",
                self.timings[name],
                peak,
                extra={"stage": name},
            )
        if self.crash_after == name:
            log.error(
                "%s=%s: dying now, as a test asked", ENV_CRASH_AFTER, name, extra={"stage": name}
            )
            os._exit(137)


def run_nightly(
    input_dir: str | Path,
    out_root: str | Path,
    *,
    hmac_key: bytes,
    run_date: dt.date | None = None,
    use_neo4j: bool = True,
    retrain: bool = False,
    force: bool = False,
    config: PipelineConfig | None = None,
    connection: Any = None,
    progress: Any = None,
) -> RunResult:
    """Run the nightly job for ``run_date`` and publish ``OUT/runs/<date>``.

    Parameters
    ----------
    input_dir : path
        The input tables (CONTRACT.md).
    out_root : path
        The output root ``OUT``.
    hmac_key : bytes
        Pseudonymization key (see :func:`riskgraph.config.resolve_hmac_key`).
    run_date : date, optional
        Default today (UTC). The run sees the events strictly before its midnight.
    use_neo4j : bool, default True
        Upsert into Neo4j, score the graph read back from it, write results back.
        ``False`` scores the input tables alone and writes files only.
    retrain : bool, default False
        Train new models even when saved ones exist.
    force : bool, default False
        Rerun a date that already has a complete run (replacing it).
    config : PipelineConfig, optional
    connection : ConnectionSettings, optional
        Default: :func:`riskgraph.graph.connection.resolve_connection`.
    progress : rich.progress.Progress, optional
        Stage progress display (the CLI passes one).

    Raises
    ------
    Neo4jUnavailableError
        Before anything is written, when Neo4j does not answer; or when it goes away
        during the run.
    RunLockedError
        When another run holds the output root.
    OutputError
        When the output cannot be created or written (full, read-only, ...).
    InputError, ConfigError, ModelError
        An error raised after the input was read notes where its rejected rows are kept
        (``OUT/failed/<date>/rejects``), as the run's own rejects/ is not published.
    """
    config = config or PipelineConfig()
    run_date = run_date or dt.datetime.now(dt.UTC).date()
    as_of = pd.Timestamp(run_date, tz="UTC")
    out = OutputRoot(out_root)
    if out.is_complete(run_date) and not force:
        log.info("run %s is already complete in %s: nothing to do", run_date, out.root)
        return RunResult("already_complete", run_date, out.run_dir(run_date), {})

    # Freed columns of a million users go back to the system within a stage, not only
    # after it (riskgraph.memory).
    map_large_allocations()
    driver = None
    if use_neo4j:
        from riskgraph.graph.connection import open_driver, resolve_connection

        connection = connection or resolve_connection()
        driver = open_driver(connection)  # raises before any output is written
    try:
        with out.lock():
            if out.is_complete(run_date) and not force:
                return RunResult("already_complete", run_date, out.run_dir(run_date), {})
            night = _Night(
                out=out,
                input_dir=Path(input_dir),
                run_date=run_date,
                as_of=as_of,
                config=config,
                driver=driver,
                database=getattr(connection, "database", "neo4j"),
                retrain=retrain,
                clock=_Clock(progress),
            )
            manifest = _run(night, hmac_key)
            return RunResult("published", run_date, out.run_dir(run_date), manifest)
    finally:
        if driver is not None:
            driver.close()


@dataclass
class _Night:
    """One run: where it reads and writes, as of when, and with which settings."""

    out: OutputRoot
    input_dir: Path
    run_date: dt.date
    as_of: pd.Timestamp
    config: PipelineConfig
    driver: Any
    database: str
    retrain: bool
    clock: _Clock
    staging: Path = field(init=False)


@dataclass(frozen=True)
class _TonightInput:
    """What the later stages keep of tonight's input: its users and row counts, the
    loader's warnings, and the stored values the read-back found unusable."""

    users: pd.DataFrame
    counts: dict[str, dict[str, int]]
    warnings: list[InputWarning]
    unusable_stored: list[str] = field(default_factory=list)

    def warning_lines(self) -> dict[str, Any]:
        """run.json ``warnings``: per input column, and per stored value read as missing."""
        return {
            "input": [w.to_dict() for w in self.warnings],
            "neo4j_values_read_as_missing": list(self.unusable_stored),
        }


def _run(night: _Night, hmac_key: bytes) -> dict[str, Any]:
    clock = night.clock
    with clock.stage("load", f"validating {night.input_dir}"):
        # Validated before anything is written: a fatal input problem leaves no trace.
        loaded = load_input(night.input_dir, hmac_key=hmac_key)
    night.staging = night.out.new_staging(night.run_date)
    try:
        write_rejects(loaded.rejects, night.staging / "rejects")
        loaded.check_usable()
        tonight = _TonightInput(loaded.tables.users, loaded.counts, loaded.warnings)
        if night.driver is None:
            tables = loaded.tables
            clock.timings.update({"upsert": 0.0, "read_back": 0.0})
        else:
            from riskgraph.graph.batches import WriteSettings
            from riskgraph.graph.reader import read_graph
            from riskgraph.graph.writer import write_graph

            with clock.stage("upsert", "upserting tonight's tables into Neo4j"):
                write_graph(
                    night.driver,
                    loaded.tables,
                    settings=WriteSettings(database=night.database),
                    progress=clock.progress is not None,
                )
            # The graph read back supersedes tonight's tables: let them go before the model.
            del loaded
            release_free_memory()
            with clock.stage("read_back", "reading the accumulated graph back from Neo4j"):
                tables = read_graph(
                    night.driver, database=night.database, unusable=tonight.unusable_stored
                )
        return _stages(night, tonight, tables)
    except BaseException as exc:
        full = output_error(night.out.root, exc) if isinstance(exc, OSError) else None
        # The staging directory goes, but not the rejected rows: they may be why the
        # run failed (every labelled row rejected, say).
        kept = night.out.keep_failed_rejects(night.staging / "rejects", night.run_date)
        if kept is not None and isinstance(exc, Exception):
            (full or exc).add_note(f"the rejected rows of this input are kept in {kept}")
        shutil.rmtree(night.staging, ignore_errors=True)
        if full is not None:
            raise full from exc
        raise


def _stages(night: _Night, tonight: _TonightInput, tables: GraphTables) -> dict[str, Any]:
    config, clock, as_of, staging = night.config, night.clock, night.as_of, night.staging
    with clock.stage("features", f"graph risk features as of {as_of.date()}"):
        features = compute_graph_features(tables, as_of, config=config.features)

    # The models never see a protected attribute (the fairness table does).
    model_tables = _without_protected(tables, config.fairness.protected)
    with clock.stage("model", "loading or training the models"):
        models, trained = _models(night, model_tables)
    model_version = _model_version(models.record_)

    with clock.stage("score", "scoring"):
        scored = models.score(model_tables, as_of, features, config.decisions)
        positions = pd.Index(tables.users["user_id"]).get_indexer(tonight.users["user_id"])
        if (positions < 0).any():
            raise RunError("score: some input users are missing from the graph read back")
        scores = scored.result.scores.iloc[positions].reset_index(drop=True)
        flags = scored.result.flags.iloc[positions].reset_index(drop=True)
        bins = _priced_characteristics(models, scored.result.bins, positions)
        gnn_views = scored.gnn_views
        # Every user's scores, reasons and flags are not needed past here, and tonight's
        # feature rows only again in the report: neither is held through the links,
        # the stage with the job's highest memory.
        del scored
        forced, cutoffs = _decide(scores, flags, config.decisions)
        scores["as_of"] = pd.Series(as_of, index=scores.index).astype("datetime64[us, UTC]")
        scores["model_version"] = pd.array([model_version] * len(scores), dtype="string")
        scores.to_parquet(staging / "scores.parquet", index=False)
        _tonight_rows(features, positions, as_of).to_parquet(
            staging / "features.parquet", index=False
        )
        features.rings.to_parquet(staging / "rings.parquet", index=False)

    with clock.stage("links", "risky links of the users under review or declined"):
        explained = scores.loc[scores["decision"].isin(config.risk_links.decisions), "user_id"]
        associations = models.risky_links(
            model_tables, as_of, explained.tolist(), gnn_views, top_k=config.risk_links.top_k
        )
        del gnn_views
        associations.to_parquet(staging / "associations.parquet", index=False)

    out, run_date, driver = night.out, night.run_date, night.driver
    previous_dir = out.previous_run(run_date)
    changes, previous_scores = _watchlist(night, previous_dir, scores)

    with clock.stage("report", "report.html"):
        feature_rows = _tonight_rows(features, positions)
        labels_now = _labelled_since(tables, models, as_of, positions, scores)
        fairness = fairness_report(
            scores["decision"],
            _visible_label(tables, as_of)[positions],
            tonight.users,
            attributes=config.fairness.audited,
        )
        development = getattr(models.scorecard_, "development_", None)
        matured = labels_now[["credit_score", "label"]]
        strategy = strategy_table(
            scores["credit_score"],
            scores["risk_score"],
            forced,
            development=development,
            labelled=matured,
        )
        previous_manifest = _previous_manifest(previous_dir)
        previous_monitoring = (
            previous_manifest.get("monitoring", {})
            if previous_manifest.get("model_version") == model_version
            else {}
        )
        cohort, cohort_note = _applicants(tables, positions, as_of, config.monitoring)
        monitoring = model_monitoring(
            development,
            scores["credit_score"].to_numpy()[cohort],
            None if bins is None else bins.iloc[cohort],
            previous=previous_monitoring,
            matured=matured,
        )
        monitoring.notes.insert(0, cohort_note)
        del bins
        report = ReportData(
            run_date=run_date,
            summary=_summary(tonight, tables, scores, features, trained),
            timings=dict(clock.timings),
            scores=scores,
            features=feature_rows,
            rings=features.rings,
            labelled=labels_now,
            quality_note=(
                "Users whose label became known after the model's training date, "
                "with tonight's risk score: an out-of-time check."
            ),
            model={k: v for k, v in models.record_.items() if k != "config"},
            fairness=fairness.table,
            fairness_gaps=fairness.largest_gaps(),
            strategy=strategy,
            cutoffs=cutoffs.to_dict(),
            monitoring=monitoring,
            changes=changes,
            previous_scores=previous_scores,
            previous_features=(
                pd.read_parquet(previous_dir / "features.parquet") if previous_dir else None
            ),
            previous_date=dt.date.fromisoformat(previous_dir.name) if previous_dir else None,
        )
        (staging / "report.html").write_text(render_report(report), encoding="utf-8")

    _write_back(night, features, scores, associations)

    with clock.stage("publish", f"publishing runs/{run_date}"):
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "run_date": run_date.isoformat(),
            "as_of": as_of.isoformat(),
            "input": str(night.input_dir.resolve()),
            "neo4j": driver is not None,
            "counts": {
                "input": tonight.counts,
                "graph": {name: len(t) for name, t in tables.tables()},
                "relationships": tables.num_edges,
                "scored_users": len(scores),
                "associations": len(associations),
                "watchlist": len(changes),
            },
            "rejected": {name: c["rejected"] for name, c in tonight.counts.items()},
            "warnings": tonight.warning_lines(),
            "timings_seconds": dict(clock.timings),
            "peak_memory_gb": dict(clock.peak_memory_gb),
            "model": {**models.record_, "trained_tonight": trained},
            "model_version": model_version,
            "metrics": _quality_metrics(labels_now),
            "decisions": scores["decision"].value_counts().to_dict(),
            "cutoffs": cutoffs.to_dict(),
            "strategy": _records(strategy),
            "monitoring": monitoring.to_dict(),
            "fairness": fairness.summary,
            "config": config.to_dict(),
            "versions": _versions(),
        }
        _publish(night, manifest, trained)
    return manifest


def _decide(
    scores: pd.DataFrame, flags: pd.DataFrame, policy: DecisionPolicy
) -> tuple[np.ndarray, ResolvedCutoffs]:
    """Write tonight's decisions into ``scores``; return the users forced to review and
    the cut-offs, whose targets apply to the users decided tonight."""
    forced = forced_review(flags, policy)
    cutoffs = resolve_cutoffs(policy, scores["credit_score"], scores["risk_score"], forced)
    scores["decision"] = decide(
        scores["credit_score"].to_numpy(),
        ring_member=flags["ring_member"].to_numpy(),
        intermediary_client=flags["intermediary_client"].to_numpy(),
        multi_borrowing=flags["multi_borrowing"].to_numpy(),
        policy=cutoffs.policy(policy),
    )
    return forced, cutoffs


def _watchlist(
    night: _Night, previous_dir: Path | None, scores: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The users whose score moved most since the previous run (staged as
    changes.parquet), and the previous run's scores."""
    with night.clock.stage("changes", "watchlist: score moves since the previous run"):
        previous_scores = pd.read_parquet(previous_dir / "scores.parquet") if previous_dir else None
        changes = score_changes(
            previous_scores if previous_scores is not None else scores.iloc[:0],
            scores,
            night.config.watchlist,
        )
        changes.to_parquet(night.staging / "changes.parquet", index=False)
    return changes, previous_scores


def _write_back(
    night: _Night, features: GraphFeatures, scores: pd.DataFrame, associations: pd.DataFrame
) -> None:
    """Write tonight's features, scores, rings and risky links to Neo4j (when the night
    has a driver)."""
    if night.driver is None:
        night.clock.timings["write_back"] = 0.0
        return
    from riskgraph.graph.writeback import WRITE_BACK_SETTINGS, write_features, write_scores

    with night.clock.stage("write_back", "writing scores, rings and risky links to Neo4j"):
        # Tonight's users only: a User node's features and scores come from one night.
        settings = dataclasses.replace(WRITE_BACK_SETTINGS, database=night.database)
        write_features(night.driver, features, users=scores["user_id"], settings=settings)
        write_scores(night.driver, scores, associations, night.as_of, settings=settings)


def _publish(night: _Night, manifest: dict[str, Any], trained: bool) -> None:
    """Write the manifest, restrict the run's files, promote a model trained tonight
    and publish the staged run."""
    staging = night.staging
    write_json_atomic(staging / RUN_MANIFEST, manifest)
    restrict_tree(staging)  # the model too, before it moves out of the run
    if trained:
        _promote_model(night.out, staging)
    night.out.publish(staging, night.run_date)


def _tonight_rows(
    features: GraphFeatures, positions: np.ndarray, as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """The feature rows of tonight's users, in input order; with ``as_of``, the
    column ``as_of`` last (features.parquet)."""
    rows = features.features.iloc[positions].reset_index(drop=True)
    if as_of is not None:
        rows["as_of"] = pd.Series(as_of, index=rows.index).astype("datetime64[us, UTC]")
    return rows


def _without_protected(tables: GraphTables, protected: tuple[str, ...]) -> GraphTables:
    """``tables`` whose users table lacks the protected attributes: what the models get."""
    present = [c for c in protected if c in tables.users.columns]
    if not present:
        return tables
    log.info("leaving out the protected attributes %s", present, extra={"stage": "model"})
    return tables.replace(users=tables.users.drop(columns=present))


def _priced_characteristics(
    models: RiskModels, bins: pd.DataFrame | None, positions: np.ndarray
) -> pd.DataFrame | None:
    """Tonight's users' bins of the characteristics that carry points: those the
    monitoring compares (one the regression gave no weight is no part of the score)."""
    if bins is None:
        return None
    coef = models.scorecard_.coef_
    return bins.iloc[positions][[c for c in bins.columns if coef.get(c, 0.0) != 0.0]]


def _applicants(
    tables: GraphTables, positions: np.ndarray, as_of: pd.Timestamp, config: MonitoringConfig
) -> tuple[np.ndarray, str]:
    """Tonight's users the monitoring compares with the development sample: those whose
    first application falls in the last ``applicant_days`` (all users when too few)."""
    apps = tables.applications
    first = pd.Series(apps["applied_at"].to_numpy()).groupby(apps["user_idx"].to_numpy()).min()
    since = as_of - pd.Timedelta(days=config.applicant_days)
    recent = first.index[(first >= since).to_numpy() & (first < as_of).to_numpy()]
    cohort = np.flatnonzero(np.isin(positions, recent.to_numpy()))
    if len(cohort) >= config.min_applicants:
        return cohort, (
            f"compared: the {len(cohort):,} users whose first application is in the last "
            f"{config.applicant_days} days"
        )
    return np.arange(len(positions)), (
        f"compared: every user scored tonight ({len(positions):,}), as only {len(cohort):,} "
        f"first applied in the last {config.applicant_days} days"
    )


def _model_version(record: dict[str, Any]) -> str:
    """The models' version: their training date and data fingerprint (the same
    training data and date give the same models)."""
    return f"{str(record['as_of'])[:10]}.{record['data_fingerprint'][:8]}"


def _previous_manifest(previous_dir: Path | None) -> dict[str, Any]:
    if previous_dir is None:
        return {}
    try:
        return json.loads((previous_dir / RUN_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning(
            "cannot read %s: no comparison with it",
            previous_dir / RUN_MANIFEST,
            extra={"stage": "report"},
        )
        return {}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN becomes None)."""
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    """Tuples as lists, paths as text: JSON as it is read back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _models(night: _Night, tables: GraphTables) -> tuple[RiskModels, bool]:
    """The saved models, or new ones trained tonight (saved in the staging dir until
    the run is published)."""
    model_dir, config = night.out.model_dir, night.config
    if RiskModels.exists(model_dir) and not night.retrain:
        try:
            models = RiskModels.load(model_dir, config.features)
        except StaleModelError as exc:
            # A new version of riskgraph reads the same input: tonight's models replace
            # the old ones, as a retrain would.
            log.warning("%s; training new models tonight", exc, extra={"stage": "model"})
        else:
            log.info("reusing %s", model_dir, extra={"stage": "model"})
            return models, False
    log.info(
        "training on the labels visible before %s", night.as_of.date(), extra={"stage": "model"}
    )
    require_labels(_visible_label(tables, night.as_of), night.as_of)
    models = RiskModels(config.model, config.features).fit(
        tables,
        night.as_of,
        incumbent=RiskModels.recorded_candidate(model_dir),
        incumbent_calibrator=RiskModels.recorded_calibrator(model_dir),
        incumbent_scorecard=RiskModels.recorded_scorecard(model_dir),
    )
    try:
        models.save(night.staging / "model")
        # The scorecard as a risk team reads it, beside the model it describes.
        models.scorecard_.characteristic_table().to_csv(
            night.staging / "model" / SCORECARD_CSV, index=False
        )
    except (OSError, RuntimeError) as exc:  # torch reports a failed write as RuntimeError
        raise OutputError(
            f"{night.staging / 'model'}: the trained models cannot be written ({exc})"
        ) from exc
    return models, True


def _promote_model(out: OutputRoot, staging: Path) -> None:
    """Replace ``OUT/model`` with the model trained tonight (two renames)."""
    new = staging / "model"
    old = out.root / f".model-old-{os.getpid()}"
    if out.model_dir.exists():
        os.replace(out.model_dir, old)
    os.replace(new, out.model_dir)
    shutil.rmtree(old, ignore_errors=True)


def _visible_label(tables: GraphTables, as_of: pd.Timestamp) -> np.ndarray:
    from riskgraph.graph.features import visible_labels

    return visible_labels(tables.users, as_of)


def _labelled_since(
    tables: GraphTables,
    models: RiskModels,
    as_of: pd.Timestamp,
    positions: np.ndarray,
    scores: pd.DataFrame,
) -> pd.DataFrame:
    """Tonight's users whose label arrived after the models' training date."""
    trained_as_of = pd.Timestamp(models.record_["as_of"])
    users = tables.users.iloc[positions].reset_index(drop=True)
    label_at = users["label_at"]
    new = (label_at >= trained_as_of) & (label_at < as_of) & users["label"].notna()
    mask = new.to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "risk_score": scores["risk_score"].to_numpy()[mask],
            "credit_score": scores["credit_score"].to_numpy()[mask],
            "label": users["label"].to_numpy()[mask].astype(int),
        }
    )


def _quality_metrics(labelled: pd.DataFrame) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = labelled["label"].to_numpy()
    out: dict[str, Any] = {"labelled_since_training": len(y)}
    if len(y) and 0 < y.sum() < len(y):
        p = labelled["risk_score"].to_numpy()
        out.update(auc_roc=float(roc_auc_score(y, p)), auc_pr=float(average_precision_score(y, p)))
    return out


def _summary(
    tonight: _TonightInput,
    tables: GraphTables,
    scores: pd.DataFrame,
    features: GraphFeatures,
    trained: bool,
) -> dict[str, Any]:
    counts = tonight.counts
    summary = {
        "users scored": len(scores),
        "users in the graph": tables.num_users,
        "relationships in the graph": tables.num_edges,
        "rejected rows": {n: c["rejected"] for n, c in counts.items() if c["rejected"]} or "none",
        "input warnings": "; ".join(map(str, tonight.warnings)) or "none",
        "rings": len(features.rings),
        "multi-borrowers": int(scores["multi_borrowing"].sum()),
        "models": "trained tonight" if trained else "reused",
    }
    if tonight.unusable_stored:
        summary["values in Neo4j read as missing"] = "; ".join(tonight.unusable_stored)
    return summary


def _versions() -> dict[str, str]:
    import sklearn
    import torch
    import torch_geometric

    return {
        "riskgraph": __version__,
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }
