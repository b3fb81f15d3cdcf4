"""Property-based loader tests: malformed rows mixed into good ones.

Each generated row knows whether it is good and, if not, why. The loader must not
crash, must reject exactly the bad rows with their line and a matching reason, and
must load every good row unchanged.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgraph.loaders import load_input

KEY = "property-test-key-0123"

# Ids full of what breaks naive code: quotes, backticks, Cypher, commas, newlines, non-ASCII.
NASTY = [
    "'}) MATCH (n) DETACH DELETE n //",
    "`user`",
    'say "hi"',
    "a,b",
    "line\nbreak",
    "用户",
    "Ünïcödé",
    "$param",
    "\\",
    "{}",
    "🙂",
]
id_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
        min_size=1,
        max_size=12,
    ),
).filter(lambda s: s.strip() != "")

timestamps = st.datetimes(
    min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2026-01-01").to_pydatetime(),
).map(lambda d: d.replace(microsecond=0))
good_time = st.one_of(
    timestamps.map(lambda d: d.date().isoformat()),
    timestamps.map(lambda d: d.isoformat()),
    timestamps.map(lambda d: d.isoformat() + "+08:00"),
    timestamps.map(lambda d: d.isoformat() + "Z"),
)
bad_time = st.sampled_from(["notadate", "2024-13-45", "31/12/2024", "yesterday", "2024-02-30"])


@dataclass
class Row:
    values: list[str]
    bad: str | None  # a fragment of the expected reason, None when the row is good


@st.composite
def user_rows(draw) -> list[Row]:
    ids = draw(st.lists(id_text, min_size=1, max_size=15, unique=True))
    rows: list[Row] = []
    for user_id in ids:
        kind = draw(
            st.sampled_from(
                ["good", "good", "good", "empty_id", "bad_date", "no_label_at", "bad_label"]
            )
        )
        label = draw(st.sampled_from(["", "0", "1"]))
        label_at = draw(good_time) if label else ""
        row = [user_id, draw(good_time), label, label_at]
        reason = None
        if kind == "empty_id":
            row[0], reason = draw(st.sampled_from(["", "  "])), "empty user_id"
        elif kind == "bad_date":
            row[1], reason = draw(bad_time), "unparsable registered_at"
        elif kind == "no_label_at":
            row[2], row[3], reason = "1", "", "label without label_at"
        elif kind == "bad_label":
            row[2], reason = (
                draw(st.sampled_from(["2", "yes", "-1", "0.5"])),
                "is not 0, 1 or empty",
            )
        rows.append(Row(row, reason))
    good = [r.values[0] for r in rows if r.bad is None]
    if good and draw(st.booleans()):
        dup = draw(st.sampled_from(good))
        rows.append(Row([dup, draw(good_time), "", ""], "duplicate key"))
    return rows


@st.composite
def device_rows(draw, good_users: list[str]) -> list[Row]:
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 15))):
        kind = draw(st.sampled_from(["good", "good", "unknown_user", "empty_device", "bad_date"]))
        if not good_users:
            kind = "unknown_user"
        user = (
            draw(st.sampled_from(good_users))
            if kind != "unknown_user"
            else "ghost-" + draw(id_text)
        )
        device = draw(id_text)
        if kind == "empty_device":
            rows.append(Row([user, "", ""], "empty device_id"))
        elif kind == "unknown_user":
            rows.append(Row([user, device, ""], "unknown user_id"))
        elif kind == "bad_date":
            rows.append(Row([user, device, draw(bad_time)], "unparsable first_seen"))
        elif (user, device) in seen:
            rows.append(Row([user, device, ""], "duplicate key"))
        else:
            seen.add((user, device))
            rows.append(Row([user, device, draw(st.one_of(st.just(""), good_time))], None))
    return rows


def _write(path: Path, header: list[str], rows: list[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row.values)


def _lines_of(path: Path) -> list[int]:
    """The source line of each data record, as csv.reader counts them."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        lines, start = [], reader.line_num + 1
        for _ in reader:
            lines.append(start)
            start = reader.line_num + 1
    return lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bad_rows_rejected_with_line_and_reason_good_rows_loaded(data):
    users = data.draw(user_rows())
    good_users = [r.values[0] for r in users if r.bad is None]
    devices = data.draw(device_rows(good_users))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "in"
        d.mkdir()
        _write(d / "users.csv", ["user_id", "registered_at", "label", "label_at"], users)
        _write(d / "user_devices.csv", ["user_id", "device_id", "first_seen"], devices)
        result = load_input(d, hmac_key=KEY, rejects_dir=Path(tmp) / "rejects")

        for name, rows in (("users", users), ("user_devices", devices)):
            lines = _lines_of(d / f"{name}.csv")
            expected = {line: r.bad for line, r in zip(lines, rows, strict=True) if r.bad}
            rejects = result.rejects[name]
            assert sorted(rejects["line"].tolist()) == sorted(expected), name
            for line, reason in zip(rejects["line"], rejects["reason"], strict=True):
                assert expected[line] in reason, (name, line, reason)
            if expected:
                on_disk = pd.read_csv(Path(tmp) / "rejects" / f"{name}.csv", dtype=str)
                assert sorted(on_disk["line"].astype(int)) == sorted(expected)

        loaded_users = sorted(result.tables.users["user_id"].tolist())
        assert loaded_users == sorted(good_users)
        g = result.tables
        pairs = {
            (g.users["user_id"].iloc[u], g.devices["device_id"].iloc[dv])
            for u, dv in zip(g.user_devices["user_idx"], g.user_devices["device_idx"], strict=True)
        }
        assert pairs == {(r.values[0], r.values[1]) for r in devices if r.bad is None}
        assert result.counts["users"]["rejected"] == sum(r.bad is not None for r in users)


@settings(max_examples=25, deadline=None)
@given(users=user_rows(), missing=st.sampled_from(["user_id", "registered_at"]))
def test_fatal_error_writes_nothing(users, missing):
    header = ["user_id", "registered_at", "label", "label_at"]
    keep = [i for i, h in enumerate(header) if h != missing]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "in"
        d.mkdir()
        rows = [Row([r.values[i] for i in keep], r.bad) for r in users]
        _write(d / "users.csv", [header[i] for i in keep], rows)
        rejects_dir = Path(tmp) / "rejects"
        try:
            load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
        except Exception as exc:  # the type and message are checked below
            assert type(exc).__name__ == "InputError"
            assert f"users.csv: missing required column '{missing}'" in str(exc)
        else:
            raise AssertionError("a missing required column must stop the load")
        assert not rejects_dir.exists()
