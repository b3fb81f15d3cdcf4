"""Do two versions of riskgraph produce the same nights? Outputs compared file by file.

A refactoring must leave what the nightly job publishes unchanged. This script runs the
job the way a scheduler does (``python -m riskgraph nightly`` in its own process, with
the interpreter running this script) on a fixed synthetic population, for two
consecutive nights (the first trains the models, the second reuses them and fills the
watchlist), and compares two such output roots. To run another version's code, put a
tree laid out as the installed package first on ``PYTHONPATH``::

    python benchmarks/same_outputs.py run --out /tmp/before [--no-neo4j]
    # ... change the code ...
    python benchmarks/same_outputs.py run --out /tmp/after [--no-neo4j]
    python benchmarks/same_outputs.py compare /tmp/before /tmp/after

``run`` writes the population (``--users``, default 5,000; ``--seed``) to ``OUT/input``
and the two nights to ``OUT/root``. With Neo4j (the default) it empties the database of
the configured instance first (``RISKGRAPH_NEO4J_HOME`` or ``RISKGRAPH_NEO4J_URI``): use
a private instance.

``compare`` walks both output roots and reports every file that differs:

* Parquet files: equal schemas and equal values, dtypes included (``DataFrame.equals``),
  and equal bytes.
* ``run.json``, ``model.json``: equal after removing what measures the machine rather
  than the result (stage timings, peak memory, the input's absolute path, the wall-clock
  times a model records). Keys only the second root has are listed as additions, not
  differences (an output extended additively, as CONTRACT.md allows); a key removed or
  a value changed is a difference.
* ``report.html``: equal after removing the stage-timing table and the models' training
  time.
* the saved models (``gnn.pt``, ``scorecard.pkl``): equal objects once loaded (arrays and
  tensors equal, values equal, recursively), the same measurements aside (the fields
  named in :data:`VOLATILE_KEYS`, and optbinning's ``_time_*``).
* every other file (``scorecard.csv``, rejects): equal bytes.

Exit status 0 when nothing differs, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

KEY = "same-outputs-benchmark-key-0123456789"
#: Keys of run.json, model.json and the saved models that measure the run (times,
#: memory, where the input was), not its result.
VOLATILE_KEYS = frozenset(
    {
        "timings_seconds",
        "peak_memory_gb",
        "input",
        "fit_seconds",
        "trained_at",
        "seconds",
        "stage_seconds",
    }
)
_VOLATILE_HTML = (
    re.compile(r"<h3>Stage timings</h3><table>.*?</table>", re.DOTALL),
    re.compile(r"<tr><th>trained_at</th><td>[^<]*</td></tr>"),
)


def run(out: Path, *, users: int, seed: int, days: int, use_neo4j: bool) -> None:
    """Generate the population and run two nights into ``out/root``."""
    from riskgraph.loaders.synthetic import generate_population

    if out.exists():
        shutil.rmtree(out)
    input_dir, root = out / "input", out / "root"
    population = generate_population(users, seed=seed, days=days)
    population.write(input_dir, truth_path=out / "truth.parquet")
    key_file = out / "hmac.key"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    if use_neo4j:
        _empty_database()
    first = pd.Timestamp(population.end).date() + dt.timedelta(days=1)
    for night in (first, first + dt.timedelta(days=1)):
        command = [
            sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir), "--out", str(root),
            "--date", night.isoformat(), "--hmac-key-file", str(key_file), "--quiet",
        ]  # fmt: skip
        if not use_neo4j:
            command.append("--no-neo4j")
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})


def _empty_database() -> None:
    from riskgraph.graph import cypher
    from riskgraph.graph.connection import open_driver

    with open_driver() as driver, driver.session() as session:
        session.run(cypher.DELETE_ALL, batch_size=10_000).consume()


def compare(before: Path, after: Path) -> list[str]:
    """Lines describing every difference between two output roots (empty: identical)."""
    mine = _files(before)
    theirs = _files(after)
    problems = [f"only in {before}: {p}" for p in sorted(mine - theirs)]
    problems += [f"only in {after}: {p}" for p in sorted(theirs - mine)]
    for rel in sorted(mine & theirs):
        problems += [f"{rel}: {line}" for line in _compare_file(before / rel, after / rel)]
    return problems


def _files(root: Path) -> set[Path]:
    """The output files under ``root``; the run lock is no output."""
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def _compare_file(a: Path, b: Path) -> list[str]:
    if a.suffix == ".parquet":
        left, right = pd.read_parquet(a), pd.read_parquet(b)
        if list(left.columns) != list(right.columns):
            return [f"columns {list(left.columns)} != {list(right.columns)}"]
        if not left.equals(right):
            return ["values or dtypes differ"]
        return [] if a.read_bytes() == b.read_bytes() else ["same values, different bytes"]
    if a.suffix == ".json":
        return _compare_json(json.loads(a.read_text()), json.loads(b.read_text()), "")
    if a.suffix == ".html":
        left, right = (_without_times(p.read_text()) for p in (a, b))
        return [] if left == right else ["differs (stage timings and training time aside)"]
    if a.read_bytes() == b.read_bytes():
        return []
    if a.suffix in (".pt", ".pkl"):
        return _compare_objects(_load(a), _load(b), a.name, set())
    return ["bytes differ"]


def _without_times(html: str) -> str:
    for pattern in _VOLATILE_HTML:
        html = pattern.sub("", html)
    return html


def _load(path: Path) -> Any:
    """A saved model file of this very comparison (trusted: written by the runs)."""
    if path.suffix == ".pt":
        import torch

        return torch.load(path, weights_only=False)
    with path.open("rb") as handle:
        return pickle.load(handle)


def _compare_objects(left: Any, right: Any, where: str, seen: set[tuple[int, int]]) -> list[str]:
    """Differences between two loaded objects, recursively, measurements aside."""
    import numpy as np
    import torch

    if (id(left), id(right)) in seen:
        return []
    seen.add((id(left), id(right)))
    if type(left) is not type(right):
        return [f"{where}: {type(left).__name__} != {type(right).__name__}"]
    if isinstance(left, torch.Tensor):
        return [] if torch.equal(left, right) else [f"{where}: tensors differ"]
    if isinstance(left, np.ndarray):
        same = left.shape == right.shape and np.array_equal(
            left, right, equal_nan=left.dtype.kind in "fc"
        )
        return [] if same else [f"{where}: arrays differ"]
    if isinstance(left, pd.DataFrame | pd.Series | pd.Index):
        return [] if left.equals(right) else [f"{where}: frames differ"]
    if isinstance(left, dict):
        keys = [k for k in set(left) | set(right) if not _volatile(k)]
        out = [f"{where}.{k}: only on one side" for k in keys if (k in left) != (k in right)]
        for k in sorted((k for k in keys if k in left and k in right), key=str):
            out += _compare_objects(left[k], right[k], f"{where}.{k}", seen)
        return out
    if isinstance(left, list | tuple):
        if len(left) != len(right):
            return [f"{where}: lengths {len(left)} != {len(right)}"]
        return [
            line
            for i, (x, y) in enumerate(zip(left, right, strict=True))
            for line in _compare_objects(x, y, f"{where}[{i}]", seen)
        ]
    state = getattr(left, "__dict__", None)
    if state is not None and not isinstance(left, type):
        return _compare_objects(state, vars(right), where, seen)
    if isinstance(left, float) and np.isnan(left):
        return [] if np.isnan(right) else [f"{where}: nan != {right!r}"]
    try:
        same = bool(left == right)
    except (TypeError, ValueError):
        same = repr(left) == repr(right)
    return [] if same else [f"{where}: {left!r:.60} != {right!r:.60}"]


def _volatile(key: Any) -> bool:
    return key in VOLATILE_KEYS or (isinstance(key, str) and key.startswith("_time"))


def _compare_json(left: Any, right: Any, where: str) -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(set(left) | set(right), key=str):
            if key in VOLATILE_KEYS:
                continue
            path = f"{where}.{key}" if where else str(key)
            if key not in right:
                out.append(f"{path} removed")
            elif key not in left:
                print(f"  addition: {path} = {json.dumps(right[key])[:80]}")
            else:
                out += _compare_json(left[key], right[key], path)
        return out
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            line
            for i, (x, y) in enumerate(zip(left, right, strict=True))
            for line in _compare_json(x, y, f"{where}[{i}]")
        ]
    return [] if left == right else [f"{where}: {left!r} != {right!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="generate the population and run two nights")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--users", type=int, default=5_000)
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--days", type=int, default=180)
    r.add_argument("--no-neo4j", action="store_true")
    c = sub.add_parser("compare", help="compare two output roots")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(
            args.out,
            users=args.users,
            seed=args.seed,
            days=args.days,
            use_neo4j=not args.no_neo4j,
        )
        return 0
    problems = compare(args.before / "root", args.after / "root")
    for line in problems:
        print("DIFFERS", line)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
