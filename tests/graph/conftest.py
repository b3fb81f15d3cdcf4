"""Hand-made graphs for the graph-feature tests (every answer checkable by eye)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from riskgraph.loaders import GraphTables, build_graph_tables

FEATURE_KEY = "feature-test-key-0123456789"


def frames_to_tables(frames: dict[str, list[list[str]] | pd.DataFrame]) -> GraphTables:
    """Contract tables given as DataFrames of strings (or header + rows lists) -> GraphTables."""
    built = {}
    for name, value in frames.items():
        if isinstance(value, pd.DataFrame):
            built[name] = value
        else:
            header, *rows = value
            built[name] = pd.DataFrame(rows, columns=header)
    result = build_graph_tables(built, hmac_key=FEATURE_KEY)
    assert result.rejected_total == 0, result.rejects
    return result.tables


def town_frames() -> dict[str, list[list[str]]]:
    """A small town, as_of 2024-06-01.

    * Ring: r1, r2, r3, r4 registered 2024-05-01..03; r1-r2 share phone ``dA``, r2-r3
      share card ``cA``, r3-r4 share phone ``dB``. r4 is bad (known 2024-05-20), r3 is
      good (known 2024-05-21), r2 is bad but only known 2024-06-15 (after as_of).
    * Household: h1 (registered 2019), h2 (2022) share tablet ``dT``.
    * Cafe: c1..c4 each used public PC ``dPub``; c1 is bad (known 2024-04-01).
    * Agent: clients a1, a2, a3 filed applications from agent device ``dAg``, never
      seen in user_devices.
    * Social: h1 - r1 (contact), c2 -> h2 (family).
    * Late: ``z1`` registered 2024-07-01 (after as_of) on phone ``dA`` with no
      timestamp: it does not exist yet.
    """
    return {
        "users": [
            ["user_id", "registered_at", "label", "label_at"],
            ["r1", "2024-05-01", "", ""],
            ["r2", "2024-05-02", "1", "2024-06-15"],
            ["r3", "2024-05-02", "0", "2024-05-21"],
            ["r4", "2024-05-03", "1", "2024-05-20"],
            ["h1", "2019-03-01", "", ""],
            ["h2", "2022-08-01", "", ""],
            ["c1", "2023-01-01", "1", "2024-04-01"],
            ["c2", "2023-02-01", "", ""],
            ["c3", "2023-03-01", "", ""],
            ["c4", "2023-04-01", "", ""],
            ["a1", "2024-01-01", "", ""],
            ["a2", "2024-01-02", "", ""],
            ["a3", "2024-01-03", "", ""],
            ["z1", "2024-07-01", "1", "2024-07-10"],
        ],
        "user_devices": [
            ["user_id", "device_id", "first_seen"],
            ["r1", "dA", "2024-05-01"],
            ["r2", "dA", "2024-05-02"],
            ["r3", "dB", "2024-05-02"],
            ["r4", "dB", ""],
            ["h1", "dT", "2022-09-01"],
            ["h2", "dT", "2022-09-01"],
            ["c1", "dPub", ""],
            ["c2", "dPub", ""],
            ["c3", "dPub", ""],
            ["c4", "dPub", ""],
            ["z1", "dA", ""],
        ],
        "user_accounts": [
            ["user_id", "account_id", "account_type", "linked_at"],
            ["r2", "cA", "bank_card", "2024-05-02"],
            ["r3", "cA", "bank_card", "2024-05-03"],
        ],
        "social": [
            ["src_user_id", "dst_user_id", "tie_type", "created_at"],
            ["h1", "r1", "contact", "2024-05-05"],
            ["c2", "h2", "family", ""],
        ],
        "applications": [
            ["application_id", "user_id", "platform_id", "applied_at", "amount", "device_id"],
            ["ap01", "r1", "p1", "2024-05-10T09:00:00", "1000", "dA"],
            ["ap02", "r2", "p1", "2024-05-12T09:00:00", "1000", "dA"],
            ["ap03", "r3", "p2", "2024-05-12T10:00:00", "2000", "dB"],
            ["ap04", "r4", "p3", "2024-05-20T10:00:00", "500", ""],
            ["ap05", "h1", "p1", "2023-01-10T10:00:00", "300", "dT"],
            ["ap06", "a1", "p2", "2024-05-30T08:00:00", "800", "dAg"],
            ["ap07", "a1", "p3", "2024-05-30T09:00:00", "800", "dAg"],
            ["ap08", "a1", "p4", "2024-05-30T10:00:00", "", "dAg"],
            ["ap09", "a1", "p5", "2024-05-31T07:00:00", "900", ""],
            ["ap10", "a2", "p2", "2024-05-25T08:00:00", "700", "dAg"],
            ["ap11", "a3", "p2", "2024-04-01T08:00:00", "600", "dAg"],
            ["ap12", "r1", "p2", "2024-06-01T00:00:00", "5000", "dA"],
        ],
    }


@pytest.fixture
def town() -> GraphTables:
    """The town of :func:`town_frames` as GraphTables."""
    return frames_to_tables(town_frames())


@pytest.fixture(name="town_frames")
def town_frames_fixture() -> Callable[[], dict[str, list[list[str]]]]:
    """:func:`town_frames`, to edit a fresh copy in a test."""
    return town_frames


@pytest.fixture(scope="session")
def make_tables() -> Callable[[dict], GraphTables]:
    """:func:`frames_to_tables`."""
    return frames_to_tables
