"""``generate_population``: a synthetic lending population in the input contract.

:func:`~riskgraph.loaders.synthetic.story.draw_story` draws the layers of the
generative story (docs/synthetic.md); this module lays them out as the contract's
tables plus a ground truth the pipeline never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from riskgraph.errors import ConfigError
from riskgraph.loaders.synthetic import identifiers as ids
from riskgraph.loaders.synthetic.applications import STATUSES
from riskgraph.loaders.synthetic.attributes import AGE_BANDS, INCOME_BANDS
from riskgraph.loaders.synthetic.cohort import DAY, REGIONS, ROLES
from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.devices import Devices
from riskgraph.loaders.synthetic.social import TIE_TYPES
from riskgraph.loaders.synthetic.story import draw_story, stage_rng
from riskgraph.loaders.synthetic.write import write_population
from riskgraph.loaders.tables import TIMESTAMP

__all__ = ["DEFAULT_END", "SyntheticPopulation", "generate_population", "window"]

# The time unit of GraphTables timestamps, e.g. "us" in "datetime64[us, UTC]".
_UNIT = TIMESTAMP.split("[")[1].split(",")[0]

#: Default end of the window. Fixed (not today) so that a seed always gives the same files.
DEFAULT_END = "2026-06-30"


@dataclass(frozen=True)
class SyntheticPopulation:
    """A generated population: contract tables and the ground truth behind them.

    Attributes
    ----------
    tables : dict[str, pd.DataFrame]
        ``users``, ``user_devices``, ``user_accounts``, ``social``, ``applications``,
        with the columns of CONTRACT.md (``users`` adds the attributes ``age_band``,
        ``income_band``, ``region``, ``credit_history_months``, ``past_loans``,
        ``past_dues``, ``utilization``). Ids and text are strings, times UTC
        timestamps, missing values ``NaN``/``NaT``/``<NA>``.
    truth : pd.DataFrame
        One row per user: ``user_id``, ``p_bad`` (true probability of going bad),
        ``outcome`` (0/1, drawn from ``p_bad``, known or not), ``role``, ``ring_id``,
        ``intermediary_id``, ``household_id`` (nullable integers), ``community_id``,
        ``thin_file``, ``public_device_user``, ``first_applied_at``,
        ``first_approved_at``, ``n_applications``.
    seed : int
    end : pd.Timestamp
        End of the window: every event is strictly before it.
    days : int
        Length of the window: every registration is within ``days`` before ``end``.
    config : PopulationConfig
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    seed: int
    end: pd.Timestamp
    days: int
    config: PopulationConfig

    def write(
        self,
        out_dir: str | Path,
        truth_path: str | Path | None = None,
        format: Literal["csv", "parquet"] = "csv",
    ) -> dict[str, Path]:
        """Write the tables to ``out_dir`` and the truth to ``truth_path``.

        Parameters
        ----------
        out_dir : str or Path
            The input directory to create (``users.csv``, ...).
        truth_path : str or Path, optional
            Where the ground truth goes (Parquet); default ``out_dir/../truth.parquet``,
            outside the input directory, since the pipeline must never read it.
        format : {"csv", "parquet"}
            File format of the tables.

        Returns
        -------
        dict[str, Path]
            The path written for every table, and for ``"truth"``.
        """
        return write_population(self.tables, self.truth, out_dir, truth_path, format)


def generate_population(
    n_users: int,
    *,
    seed: int = 0,
    days: int = 180,
    end: str | pd.Timestamp = DEFAULT_END,
    config: PopulationConfig | None = None,
) -> SyntheticPopulation:
    """Generate a synthetic lending population of ``n_users`` users.

    Parameters
    ----------
    n_users : int
        Number of users (at least 1). About 10 relationships per user result.
    seed : int
        Seed of every random draw: the same seed gives identical tables.
    days : int
        Length of the window in days: registrations spread over it, applications and
        labels fall inside it.
    end : str or pd.Timestamp
        End of the window (UTC); every timestamp is strictly before it.
    config : PopulationConfig, optional
        Shares, sizes and rates; default :class:`PopulationConfig()`.

    Returns
    -------
    SyntheticPopulation

    Raises
    ------
    ConfigError
        When ``n_users``, ``days``, ``end`` or a ``config`` setting is invalid.

    Examples
    --------
    >>> pop = generate_population(500, seed=1)
    >>> sorted(pop.tables)
    ['applications', 'social', 'user_accounts', 'user_devices', 'users']
    >>> len(pop.tables["users"]) == len(pop.truth) == 500
    True
    """
    if isinstance(n_users, bool) or not isinstance(n_users, int | np.integer) or n_users < 1:
        raise ConfigError(f"n_users = {n_users!r}: expected a positive integer")
    config = (config or PopulationConfig()).validate()
    end_ts, start_s, end_s = window(days, end)
    n = int(n_users)

    story = draw_story(n, config, seed, start_s, end_s)
    cohort, attributes, times, devices = story.cohort, story.attributes, story.times, story.devices
    accounts, social, outcomes = story.accounts, story.social, story.outcomes
    details, labels = story.details, story.labels

    rng = stage_rng(seed, "identifiers")
    user_id = ids.user_ids(n, rng)
    device_id = ids.device_ids(devices.is_ios, rng)
    account_id = _account_ids(accounts.account_type, rng)
    platform_id = ids.platform_ids(config.n_platforms, rng)
    application_id = ids.application_ids(times.applied_at, rng)

    last_seen = _cover_applications(devices, times.user, times.applied_at, details.device)
    ud_order = np.lexsort((devices.first_seen, devices.user))
    app_order = np.argsort(times.applied_at, kind="stable")
    app_device = details.device[app_order]

    tables = {
        "users": pd.DataFrame(
            {
                "user_id": _strings(user_id),
                "registered_at": _timestamps(cohort.registered),
                "label": _nullable_ints(labels.label, "Int8"),
                "label_at": _timestamps(labels.label_at),
                "age_band": _codes(AGE_BANDS, attributes.age_band),
                "income_band": _codes(INCOME_BANDS, attributes.income_band),
                "region": _codes(REGIONS, cohort.region),
                "credit_history_months": attributes.credit_history_months.astype(np.int64),
                "past_loans": attributes.past_loans,
                "past_dues": attributes.past_dues,
                "utilization": attributes.utilization,
            }
        ),
        "user_devices": pd.DataFrame(
            {
                "user_id": _strings(user_id, devices.user[ud_order]),
                "device_id": _strings(device_id, devices.device[ud_order]),
                "first_seen": _timestamps(devices.first_seen[ud_order]),
                "last_seen": _timestamps(last_seen[ud_order]),
            }
        ),
        "user_accounts": pd.DataFrame(
            {
                "user_id": _strings(user_id, accounts.user),
                "account_id": _strings(account_id, accounts.account),
                "account_type": _codes(ids.ACCOUNT_TYPES, accounts.account_type[accounts.account]),
                "linked_at": _timestamps(accounts.linked_at),
            }
        ),
        "social": pd.DataFrame(
            {
                "src_user_id": _strings(user_id, social.src),
                "dst_user_id": _strings(user_id, social.dst),
                "tie_type": _codes(TIE_TYPES, social.tie_type),
                "created_at": _timestamps(social.created_at),
                "weight": social.weight,
            }
        ),
        "applications": pd.DataFrame(
            {
                "application_id": _strings(application_id, app_order),
                "user_id": _strings(user_id, times.user[app_order]),
                "platform_id": _strings(platform_id, details.platform[app_order]),
                "applied_at": _timestamps(times.applied_at[app_order]),
                "amount": details.amount[app_order],
                "device_id": _strings(device_id, app_device),
                "status": _codes(STATUSES, details.status[app_order]),
            }
        ),
    }
    users = tables["users"]
    truth = pd.DataFrame(
        {
            "user_id": users["user_id"],
            "p_bad": outcomes.p_bad,
            "outcome": outcomes.outcome.astype(np.int8),
            "role": _codes(ROLES, cohort.role),
            "ring_id": _nullable_ints(cohort.ring),
            "intermediary_id": _nullable_ints(cohort.agent),
            "household_id": _nullable_ints(cohort.household),
            "community_id": cohort.community.astype(np.int64),
            "thin_file": attributes.thin_file,
            "public_device_user": devices.public >= 0,
            "first_applied_at": _timestamps(times.first_applied),
            "first_approved_at": _timestamps(labels.approved_at),
            "n_applications": np.bincount(times.user, minlength=n).astype(np.int64),
        }
    )
    return SyntheticPopulation(tables, truth, int(seed), end_ts, int(days), config)


def window(days: int, end: str | pd.Timestamp) -> tuple[pd.Timestamp, int, int]:
    """The generation window: its end as a timestamp, its start and end in epoch seconds.

    Raises
    ------
    ConfigError
        When ``days`` is not a positive integer or ``end`` not a date.
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise ConfigError(f"days = {days!r}: expected a positive integer number of days")
    end_ts = _parse_end(end)
    end_s = int(end_ts.value // 10**9)
    return end_ts, end_s - int(days) * DAY, end_s


def _parse_end(end: str | pd.Timestamp) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"end = {end!r}: expected an ISO-8601 date or date-time") from exc
    if ts is pd.NaT:
        raise ConfigError(f"end = {end!r}: expected an ISO-8601 date or date-time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _account_ids(account_type: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Ids for accounts of the given types (card, phone, wallet), in account order."""
    makers = (ids.card_numbers, ids.phone_numbers, ids.wallet_ids)
    parts, positions = [], np.empty(len(account_type), dtype=np.int64)
    offset = 0
    for code, make in enumerate(makers):
        where = np.flatnonzero(account_type == code)
        parts.append(make(len(where), rng))
        positions[where] = offset + np.arange(len(where))
        offset += len(where)
    return pa.concat_arrays(parts).take(pa.array(positions))


def _strings(values: pa.StringArray, index: np.ndarray | None = None) -> pd.Series:
    """``values`` (or ``values[index]``, null where ``index < 0``) as a pandas string column."""
    if index is not None:
        missing = index < 0
        values = values.take(pa.array(np.where(missing, 0, index), mask=missing))
    return pd.Series(values.to_pandas(), copy=False)


def _codes(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return _strings(pa.array(list(names), pa.string()), np.asarray(codes, dtype=np.int64))


def _timestamps(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as UTC timestamps (the ``GraphTables`` dtype); negative = ``NaT``."""
    values = np.where(seconds >= 0, seconds, np.iinfo(np.int64).min)
    stamps = values.astype("datetime64[s]").astype(f"datetime64[{_UNIT}]")
    return pd.Series(pd.DatetimeIndex(stamps).tz_localize("UTC"))


def _nullable_ints(values: np.ndarray, dtype: str = "Int64") -> pd.Series:
    """Integers with negative values as ``<NA>``."""
    return pd.Series(pd.array(np.where(values >= 0, values, 0), dtype=dtype)).mask(values < 0)


def _cover_applications(
    devices: Devices, user: np.ndarray, applied_at: np.ndarray, device: np.ndarray
) -> np.ndarray:
    """``last_seen`` of each user-device link, extended to the user's last filing from it."""
    n_dev = max(devices.n_devices, 1)
    edge_key = devices.user * n_dev + devices.device
    filed = device >= 0
    latest = pd.Series(applied_at[filed]).groupby(user[filed] * n_dev + device[filed]).max()
    found = latest.reindex(edge_key).to_numpy()
    return np.where(np.isnan(found), devices.last_seen, np.fmax(found, devices.last_seen)).astype(
        np.int64
    )
