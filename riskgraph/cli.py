"""The ``riskgraph`` command line: a thin typer layer over importable functions."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from riskgraph import errors

app = typer.Typer(
    name="riskgraph",
    help="Graph-based fraud and multi-borrowing detection for consumer lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from riskgraph import __version__

        typer.echo(__version__)
        raise typer.Exit()


# -- exit codes: one table, applied in one place (_exits) -----------------------------------
#: sysexits.h codes a scheduler can act on: fix the input, fix the output location, retry
#: later, fix the configuration; 70 is left for bugs.
EXIT_DATA_ERROR = 65
EXIT_NO_INPUT = 66
EXIT_SOFTWARE = 70
EXIT_CANT_CREATE = 73
EXIT_TEMPFAIL = 75
EXIT_CONFIG = 78

#: The exit code of each kind of failure of ``nightly``, ``load``, ``validate``, ``demo``
#: and ``serve``; the first row whose error class matches decides, anything else is a bug
#: (70). Configuration comes first: a refused Neo4j login is both a ConfigError and a
#: Neo4jUnavailableError, and retrying it would never help. README lists this table.
EXIT_CODES: tuple[tuple[type[errors.RiskGraphError], int], ...] = (
    (errors.ConfigError, EXIT_CONFIG),
    (errors.InputError, EXIT_DATA_ERROR),
    (errors.OutputError, EXIT_CANT_CREATE),
    (errors.Neo4jUnavailableError, EXIT_TEMPFAIL),
    (errors.RunLockedError, EXIT_TEMPFAIL),
    (errors.ProviderError, EXIT_NO_INPUT),
)


def exit_code(exc: BaseException) -> int:
    """The exit code :data:`EXIT_CODES` gives ``exc`` (70 when no row matches)."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_SOFTWARE


@contextlib.contextmanager
def _exits(output: Path | None = None) -> Iterator[None]:
    """Turn a failure into its exit code, with one line on stderr and no traceback.

    Only a bug (exit 70) logs its traceback. File-system failures while writing under
    ``output`` (full, read-only, ...) are reported as the output error they are.
    """
    from riskgraph.runs import output_errors

    try:
        with output_errors(output) if output is not None else contextlib.nullcontext():
            yield
    except typer.Exit:
        raise
    except Exception as exc:
        code = exit_code(exc)
        if code == EXIT_SOFTWARE:
            logging.getLogger("riskgraph").error("a bug: please report it", exc_info=exc)
        else:
            lines = [f"error: {exc}", *(f"  {note}" for note in getattr(exc, "__notes__", []))]
            typer.echo("\n".join(lines), err=True)
        raise typer.Exit(code) from None


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the riskgraph version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Graph-based fraud and multi-borrowing detection for consumer lenders."""
    import warnings

    # Deprecation notices of the libraries underneath (torch.jit, optbinning on
    # pandas 3) say nothing a user can act on; they would only bury our own messages.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


#: Options several commands share, declared once.
InputDirOption = Annotated[
    Path, typer.Option("--input", help="Input directory (CONTRACT.md: users.csv, ...).")
]
RejectsOption = Annotated[
    Path, typer.Option("--rejects", help="Where rejected rows go, as <table>.csv.")
]
HmacKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--hmac-key-file",
        help="File (mode 0600) with the pseudonymization key; default $RISKGRAPH_HMAC_KEY.",
    ),
]


@app.command()
def version() -> None:
    """Print the riskgraph version."""
    from riskgraph import __version__

    typer.echo(__version__)


@app.command()
def generate(
    users: Annotated[int, typer.Option("--users", help="Number of users.", min=1)],
    out: Annotated[Path, typer.Option("--out", help="Input directory to write.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    days: Annotated[int, typer.Option("--days", help="Length of the window in days.", min=1)] = 180,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth", help=r"Ground-truth Parquet file. \[default: OUT/../truth.parquet]"
        ),
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="Table file format: csv or parquet.")
    ] = "csv",
) -> None:
    """Write a synthetic lending population in the input contract (see docs/synthetic.md)."""
    from riskgraph.errors import RiskGraphError
    from riskgraph.loaders.synthetic import generate_population
    from riskgraph.loaders.synthetic.write import FORMATS

    if file_format not in FORMATS:
        typer.echo(
            f"error: --format {file_format!r}: expected one of {', '.join(FORMATS)}", err=True
        )
        raise typer.Exit(1)
    try:
        population = generate_population(users, seed=seed, days=days)
        written = population.write(out, truth_path=truth, format=file_format)  # type: ignore[arg-type]
    except RiskGraphError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    rows = {name: len(table) for name, table in population.tables.items()}
    typer.echo(
        f"wrote {users:,} users to {out} ("
        + ", ".join(f"{name} {count:,}" for name, count in rows.items())
        + f"); ground truth in {written['truth']}"
    )


@app.command()
def explain(
    user_id: Annotated[str, typer.Argument(help="The user to explain.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            envvar="RISKGRAPH_OUT",
            help="Output root of the nightly job (reads OUT/latest).",
        ),
    ] = Path("out"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Why a user scored as it did: score, decision, reason codes and risky links."""
    import json

    from rich.console import Console

    from riskgraph.errors import RiskGraphError
    from riskgraph.explain import render_explanation
    from riskgraph.provider import FeatureProvider

    try:
        explanation = FeatureProvider(out).explain(user_id)
    except RiskGraphError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(explanation.to_dict(), indent=2, default=str))
    else:
        Console().print(render_explanation(explanation))


# -- Neo4j: local server lifecycle and loading (riskgraph.graph.server / writer) --------------
neo4j_app = typer.Typer(
    name="neo4j",
    help="Manage the local Neo4j 5.26 community server (127.0.0.1, auth on).",
    no_args_is_help=True,
)
app.add_typer(neo4j_app)

_HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Instance directory (default: $RISKGRAPH_NEO4J_HOME, else the user data directory).",
        show_default=False,
    ),
]


def _server_settings(home: Path | None) -> Any:
    from riskgraph.graph.server import ServerSettings

    return ServerSettings.resolve(home)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@neo4j_app.command("install")
def neo4j_install(home: _HomeOption = None) -> None:
    """Resolve Neo4j 5.26 from Maven Central into the instance directory (reuses it if there)."""
    from riskgraph.errors import RiskGraphError
    from riskgraph.graph.server import install

    try:
        report = install(_server_settings(home), echo=typer.echo)
    except RiskGraphError as exc:
        raise _fail(exc) from None
    state = "reused" if report.reused else "installed"
    typer.echo(
        f"Neo4j {report.version} {state} in {report.home} ({report.jars} files in lib/, "
        f"{report.seconds:.1f}s)"
    )


@neo4j_app.command("start")
def neo4j_start(
    home: _HomeOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for Bolt to answer.")
    ] = 180.0,
) -> None:
    """Start the local server (if it is not running) and wait until it answers."""
    from riskgraph.errors import RiskGraphError
    from riskgraph.graph.server import start

    try:
        start(_server_settings(home), timeout=timeout, echo=typer.echo)
    except RiskGraphError as exc:
        raise _fail(exc) from None


@neo4j_app.command("stop")
def neo4j_stop(home: _HomeOption = None) -> None:
    """Stop the local server (SIGTERM, then SIGKILL after 60 s)."""
    from riskgraph.errors import RiskGraphError
    from riskgraph.graph.server import stop

    try:
        stop(_server_settings(home), echo=typer.echo)
    except RiskGraphError as exc:
        raise _fail(exc) from None


@neo4j_app.command("status")
def neo4j_status(
    home: _HomeOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print version, bolt_uri, browser_url, user, password_file as JSON."
        ),
    ] = False,
) -> None:
    """Version and addresses of the Neo4j server riskgraph uses; exit 1 when it is down."""
    import json

    from riskgraph.errors import RiskGraphError
    from riskgraph.graph.connection import configured_status

    try:
        state = configured_status(home)
    except RiskGraphError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(state.to_dict(), indent=2))
    elif state.version is not None:
        typer.echo(
            f"Neo4j {state.version} {state.edition}: running"
            + (f" (pid {state.pid})" if state.pid else "")
        )
        typer.echo(f"  Bolt      {state.bolt_uri}")
        if state.browser_url:
            typer.echo(f"  Browser   {state.browser_url}")
        typer.echo(f"  User      {state.user}")
        if state.password_file:
            typer.echo(f"  Password  in {state.password_file}")
        if state.home:
            typer.echo(f"  Home      {state.home}")
    else:
        typer.echo(f"error: {state.error}", err=True)
    if state.version is None:
        raise typer.Exit(1)


@app.command("load")
def load(
    input_dir: InputDirOption,
    rejects: RejectsOption = Path("rejects"),
    hmac_key_file: HmacKeyFileOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per transaction.")] = 5_000,
) -> None:
    """Validate the input and upsert it into Neo4j (no scoring).

    Exit codes as for ``nightly``: 0 loaded, 65 bad input, 73 rejects cannot be written,
    75 Neo4j unreachable, 78 bad configuration (including a refused login), 70 a bug.
    """
    import sys

    from riskgraph.config import find_config_file, read_config_file, resolve_hmac_key
    from riskgraph.graph.batches import WriteSettings
    from riskgraph.graph.connection import open_driver, resolve_connection
    from riskgraph.graph.writer import write_graph
    from riskgraph.loaders import load_input

    with _exits(output=rejects):
        key = resolve_hmac_key(hmac_key_file, read_config_file(find_config_file(None)))
        # Reach the server before reading the input: a load that cannot be written is
        # better refused at once than after minutes of validation.
        conn = resolve_connection()
        with open_driver(conn) as driver:
            result = load_input(input_dir, hmac_key=key, rejects_dir=rejects)
            _echo_counts(result, rejects)
            result.check_usable()
            report = write_graph(
                driver,
                result.tables,
                settings=WriteSettings(database=conn.database, batch_size=batch_size),
                progress=sys.stderr.isatty(),
            )
    typer.echo(
        f"upserted {sum(report.nodes.values()):,} nodes "
        f"({sum(report.created.values()):,} new) and {report.relationships_total:,} "
        f"relationships into {conn.uri} in {report.seconds:.1f}s"
    )


def _echo_counts(result: Any, rejects: Path) -> None:
    """Rows read, loaded and rejected per table; where the rejects are; the warnings."""
    for table, counts in result.counts.items():
        typer.echo(
            f"{table:14s} {counts['rows']:>10,} rows  {counts['loaded']:>10,} loaded  "
            f"{counts['rejected']:>8,} rejected"
        )
    if result.rejected_total:
        typer.echo(f"rejected rows with line and reason: {rejects}/")
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command("validate")
def validate(
    input_dir: InputDirOption,
    rejects: RejectsOption = Path("rejects"),
    hmac_key_file: HmacKeyFileOption = None,
) -> None:
    """Check an input against the contract and write its rejects, without Neo4j.

    Exit 0 when the input is usable (rows may still be rejected), 65 when it is not.
    Account ids in the rejects are pseudonymized with the configured key, or with a
    throwaway one when none is configured: they are never written in clear.
    """
    import secrets

    from riskgraph.config import (
        ENV_HMAC_KEY,
        find_config_file,
        read_config_file,
        resolve_hmac_key,
    )
    from riskgraph.loaders import load_input

    with _exits(output=rejects):
        config = read_config_file(find_config_file(None))
        configured = (
            hmac_key_file
            or os.environ.get(ENV_HMAC_KEY)
            or config.get("security", {}).get("hmac_key_file")
        )
        key = resolve_hmac_key(hmac_key_file, config) if configured else secrets.token_bytes(32)
        result = load_input(input_dir, hmac_key=key, rejects_dir=rejects)
        _echo_counts(result, rejects)
        result.check_usable()
    typer.echo(f"{input_dir}: usable, {result.tables.num_users:,} users")


# -- the nightly job and the demo (riskgraph.pipeline, riskgraph.demo) -----------------------
def _interactive() -> bool:
    import sys

    return sys.stderr.isatty()


#: What a log line off a terminal looks like (:class:`LineFormatter`), for log readers:
#: ISO-8601 time with its offset, level, stage, message.
LOG_LINE = (
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<stage>[a-z_0-9.]+): (?P<message>.*)$"
)


class LineFormatter(logging.Formatter):
    """One line per record, for a scheduler's log: ISO-8601 time with its offset, level,
    stage, message (``2026-06-01T00:12:03.120+00:00 INFO score: done in 7.8 s``).

    The stage is the record's ``stage`` (the nightly job's stages set it), else the
    last part of the logger's name. Line breaks (a traceback) are written as ``\\n``
    so that a record never spans two lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        import datetime as dt

        when = dt.datetime.fromtimestamp(record.created).astimezone()
        stage = _stage(record)
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        text = text.replace("\r\n", "\n").replace("\n", "\\n")
        return f"{when.isoformat(timespec='milliseconds')} {record.levelname} {stage}: {text}"


class _TerminalFormatter(logging.Formatter):
    """``stage: message``; rich's handler adds the time and the level."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{_stage(record)}: {super().format(record)}"


def _stage(record: logging.LogRecord) -> str:
    return getattr(record, "stage", None) or record.name.rsplit(".", 1)[-1]


def _logging(level: str) -> None:
    """Log records to stderr: one line each off a terminal (a scheduler's log gets
    every stage); on a terminal, rich's handler beside the progress bars (warnings
    and errors only, unless asked)."""
    import sys

    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(_TerminalFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LineFormatter())
    logging.basicConfig(level=getattr(logging, level), handlers=[handler])


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=False
    ) as progress:
        yield progress


@app.command()
def nightly(
    input_dir: Annotated[Path, typer.Option("--input", help="Input directory (CONTRACT.md).")],
    out: Annotated[Path, typer.Option("--out", help="Output root: runs/<date>/ and latest.")],
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help=r"Run date YYYY-MM-DD (sees events before it). \[default: today]"
        ),
    ] = None,
    no_neo4j: Annotated[
        bool, typer.Option("--no-neo4j", help="Score the input tables alone; write files only.")
    ] = False,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train new models even when saved ones exist.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rerun a date that already has a complete run.")
    ] = False,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help=r"TOML config file. \[default: ./riskgraph.toml]"),
    ] = None,
    hmac_key_file: HmacKeyFileOption = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Warnings and errors only (no progress bars).")
    ] = False,
) -> None:
    """The batch job: load, features, model, score, write back, publish OUT/runs/<date>/.

    Exit codes: 0 done (or the date was already complete), 65 bad input, 73 the output
    cannot be written, 75 retry later (Neo4j unreachable or lost, another run in
    progress), 78 bad configuration (including a refused Neo4j login), 70 a bug.
    """
    import datetime as dt

    from riskgraph.config import find_config_file, read_config_file, resolve_hmac_key
    from riskgraph.pipeline import PipelineConfig, run_nightly

    interactive = _interactive() and not quiet
    _logging("WARNING" if quiet or interactive else "INFO")
    with _exits(output=out):
        try:
            run_date = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise errors.ConfigError(f"--date {date!r}: expected YYYY-MM-DD") from None
        path = find_config_file(config_file)
        key = resolve_hmac_key(hmac_key_file, read_config_file(path))
        config = PipelineConfig.from_file(path)
        with _progress(interactive) as progress:
            result = run_nightly(
                input_dir,
                out,
                hmac_key=key,
                run_date=run_date,
                use_neo4j=not no_neo4j,
                retrain=retrain,
                force=force,
                config=config,
                progress=progress,
            )
    if result.status == "already_complete":
        typer.echo(f"{result.run_dir} is already complete: nothing to do (use --force to rerun)")
        return
    counts = result.manifest["counts"]
    typer.echo(
        f"published {result.run_dir}: {counts['scored_users']:,} users scored, "
        f"{counts['associations']:,} risky links, {counts['watchlist']:,} on the watchlist; "
        f"decisions {result.manifest['decisions']}"
    )


@app.command()
def demo(
    users: Annotated[int, typer.Option("--users", help="Synthetic users.", min=100)] = 50_000,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where the input, truth and outputs go.")
    ] = Path("riskgraph-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Install and start Neo4j if needed, generate a population, run the nightly job."""
    from rich.console import Console

    from riskgraph.demo import run_demo, summary_renderables

    _logging("WARNING")
    console = Console()
    with _exits(output=workdir), _progress(_interactive()) as progress:
        result = run_demo(workdir, users=users, seed=seed, echo=console.print, progress=progress)
    for renderable in summary_renderables(result):
        console.print(renderable)


@app.command()
def serve(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            envvar="RISKGRAPH_OUT",
            help="Output root of the nightly job (reads OUT/latest).",
        ),
    ] = Path("out"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help=r"TOML config file. \[default: ./riskgraph.toml]"),
    ] = None,
    hmac_key_file: HmacKeyFileOption = None,
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope",
            help=r"What a call's feature and model code runs on: 'neighbourhood' (the "
            "applicants' few hops) or 'graph' (the whole graph: the batch features exactly, "
            r"at a full feature pass per call). \[default: \[online] scope, else neighbourhood]",
        ),
    ] = None,
) -> None:
    r"""The online service: POST /v1/score, GET /v1/users/{id}, GET /healthz (FastAPI).

    Needs a bearer token ($RISKGRAPH_API_TOKEN or \[serve] token_file) and a complete
    nightly run in --out. The online scorer's settings come from the config file's
    \[online] table. Exit codes as for nightly.
    """
    from riskgraph.config import (
        dataclass_from_mapping,
        find_config_file,
        read_config_file,
        resolve_hmac_key,
    )
    from riskgraph.memory import frozen_live_objects
    from riskgraph.online import OnlineConfig
    from riskgraph.provider import FeatureProvider
    from riskgraph.serve import create_app, resolve_api_token

    _logging("INFO")
    with _exits():
        path = find_config_file(config_file)
        values = read_config_file(path)
        token = resolve_api_token(values)
        key = resolve_hmac_key(hmac_key_file, values)
        table = dict(values.get("online") or {})
        # The whole-graph scope answers in seconds at a few thousand users and not at
        # all at a lender's size: a service walks the neighbourhood unless told not to.
        table.setdefault("scope", "neighbourhood")
        if scope is not None:
            table["scope"] = scope
        online = dataclass_from_mapping(OnlineConfig, table, f"{path or 'the defaults'} [online]")
        online.validate()  # before the run is read: a bad setting is named first
        provider = FeatureProvider(out, hmac_key=key, online=online).preload()
        # No request pays the read of the graph or the walk's structures.
        provider.online_scorer().open()
        application = create_app(provider, token)
    import uvicorn

    typer.echo(
        f"serving {provider.run_dir} on http://{host}:{port} (OpenAPI: /docs; scope {online.scope})"
    )
    # The start-up's objects live as long as the service: a full collection that
    # traversed them would land on a request.
    with frozen_live_objects():
        uvicorn.run(application, host=host, port=port, access_log=False, log_config=None)
