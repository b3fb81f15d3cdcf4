"""Randomized synthetic worlds: the generator's story knobs drawn at random.

One population tells one story: rings of about ten that register within four days,
share phones and cards and go bad at 85%; a 7% bad rate; every table present. A model
tuned on it can fail on a lender whose story differs. :func:`random_world` draws a
different story per seed (ring sizes and timing, which identifiers rings share,
intermediaries' reach, how strongly risk spreads along ties and within communities,
label delay, thin files, the bad rate, whether the lender has an applications table
and tie weights), so that a quality claim can be checked on many. docs/synthetic.md
lists the ranges and ten worlds.

Examples
--------
>>> world = random_world(3)
>>> pop = generate_world(world, 2000)
>>> ("applications" in pop.tables) == world.applications
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.loaders.synthetic.calibration import Pilots, calibrate_base_logit
from riskgraph.loaders.synthetic.config import RING_IDENTIFIERS, PopulationConfig
from riskgraph.loaders.synthetic.population import SyntheticPopulation, generate_population

__all__ = ["World", "apply_world", "generate_world", "random_world"]

# Distinguishes the world's draws from the generator's streams of the same seed.
_WORLD_STREAM = 0x5752_4C44

# Probability that a world's lender has an applications table, and tie weights.
_APPLICATIONS_P = 0.75
_TIE_WEIGHTS_P = 0.5

# The pilot populations the bad rate is calibrated on: the world's own seed and two
# more, so that the target is the world's typical rate, not one draw's.
_PILOT_USERS = 20_000
_PILOT_SEED_OFFSETS = (1_000_000, 2_000_000)
# Ceiling of the ring share a world may end up with.
_MAX_RING_SHARE = 0.05


@dataclass(frozen=True)
class World:
    """One randomized world: a generator configuration and what the lender's input holds.

    Attributes
    ----------
    seed : int
        The seed the world was drawn from; also the default seed of its population.
    config : PopulationConfig
        The drawn configuration, its ``base_logit`` calibrated to ``target_bad_rate``.
    applications : bool
        Whether the lender's input has an ``applications`` table.
    tie_weights : bool
        Whether the ``social`` table has a ``weight`` column.
    target_bad_rate : float
        The drawn bad rate among labelled users (of a population of
        ``days`` days; the realized one differs by sampling noise).
    days : int
        Window length the bad rate was calibrated for.
    story : dict[str, str]
        The drawn knobs in words, one entry per part of the story.
    """

    seed: int
    config: PopulationConfig
    applications: bool
    tie_weights: bool
    target_bad_rate: float
    days: int
    story: dict[str, str]


def random_world(seed: int, *, days: int = 180) -> World:
    """Draw a world: every story knob from its range, the bad rate calibrated.

    Parameters
    ----------
    seed : int
        The same seed gives the same world.
    days : int
        Window length of the populations the world will generate (the labelled bad
        rate depends on it: labels take months to arrive).

    Returns
    -------
    World

    Notes
    -----
    The knobs and their ranges (``U`` uniform, ``LU`` log-uniform):

    * bad rate among labelled users LU(0.5%, 15%), reached by ``base_logit``
      (:func:`~riskgraph.loaders.synthetic.calibration.calibrate_base_logit`, pooled
      over three pilots of 20,000 users: the world's seed and two more);
    * share of labelled bad users who are ring members U(5%, 50%), reached by
      ``ring_share`` (a second calibration pass; at most 5% of users);
    * ring size median LU(3.5, 40), sizes between 0.75 and 1.5 times it (at least 3,
      so from 3-5 to 30-60), log-spread U(0.2, 0.6);
    * ring tightness ``T`` LU(1, 28) days: registration within ``T``, first
      application after ``T`` x U(0.1, 0.5) days on average, the rest within
      ``T`` x U(0.5, 1);
    * identifier kinds rings share: each of the 8 subsets of device, phone, card
      equally likely; members per shared identifier LU(2, 20) per kind;
    * ring-level log-odds mean U(0, 2.5) (ring members 50% to 92% bad);
    * intermediary clients U(0%, 8%) of users, clients per agent LU(5, 80), agent's
      device on U(20%, 95%) of their applications, agent's phone on U(0%, 50%) of
      clients, agent effect mean U(-0.5, 1);
    * multi-borrowers U(2%, 10%);
    * exposure weight (risk spreading along social ties) U(0, 1.2); community
      effect scale U(0, 2.5); community size LU(50, 400);
    * label delay scale LU(0.5, 2); thin files U(0%, 40%);
    * applications table with probability 0.75, tie weights with probability 0.5.

    Examples
    --------
    >>> random_world(0) == random_world(0) != random_world(1)
    True
    """
    draws = _draw(seed)
    target = draws.target_bad_rate
    # First pass with a ring share small enough for any target; the second sets the
    # ring share so that ring members make up about ring_bad_share of the bad users
    # (their contribution grows in proportion to their number).
    config = PopulationConfig(**draws.knobs, ring_share=round(0.1 * target, 6)).validate()
    seeds = [seed, *(seed + offset for offset in _PILOT_SEED_OFFSETS)]
    pilots = Pilots(n_users=_PILOT_USERS, days=days, seeds=seeds)
    calibration = calibrate_base_logit(config, target, pilots)
    if calibration.ring_bad_share > 0:
        share = config.ring_share * draws.ring_bad_share / calibration.ring_bad_share
        config = replace(config, ring_share=round(min(share, _MAX_RING_SHARE), 6))
        calibration = calibrate_base_logit(config, target, pilots)
    config = replace(config, base_logit=round(calibration.base_logit, 4)).validate()
    story = _story(
        config, calibration.ring_bad_share, target, draws.applications, draws.tie_weights
    )
    return World(int(seed), config, draws.applications, draws.tie_weights, target, int(days), story)


def apply_world(world: World, tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The contract tables as this world's lender has them.

    Drops the ``applications`` table when ``world.applications`` is false and the
    ``weight`` column of ``social`` when ``world.tie_weights`` is false (the contract
    makes both optional). The input is not modified.

    Parameters
    ----------
    world : World
    tables : Mapping[str, pd.DataFrame]
        Contract tables by name, as in :attr:`SyntheticPopulation.tables`.

    Returns
    -------
    dict[str, pd.DataFrame]
    """
    out = {name: table for name, table in tables.items()}
    if not world.applications:
        out.pop("applications", None)
    if not world.tie_weights and "social" in out:
        out["social"] = out["social"].drop(columns="weight", errors="ignore")
    return out


def generate_world(world: World, n_users: int, *, seed: int | None = None) -> SyntheticPopulation:
    """A population of ``world``, its tables as the world's lender has them.

    Parameters
    ----------
    world : World
    n_users : int
        Number of users.
    seed : int, optional
        Seed of the population; default ``world.seed`` (one of the calibration's
        pilots at 20,000 users).

    Returns
    -------
    SyntheticPopulation
        With :func:`apply_world` applied to its tables; the truth is complete.
    """
    pop = generate_population(
        n_users, seed=world.seed if seed is None else seed, days=world.days, config=world.config
    )
    return replace(pop, tables=apply_world(world, pop.tables))


@dataclass(frozen=True)
class _Draws:
    """What a world's seed draws before any calibration."""

    target_bad_rate: float
    ring_bad_share: float
    knobs: dict[str, Any]
    applications: bool
    tie_weights: bool


def _draw(seed: int) -> _Draws:
    rng = np.random.default_rng([_WORLD_STREAM, seed])
    target = _log_uniform(rng, 0.005, 0.15)
    ring_bad_share = float(rng.uniform(0.05, 0.5))
    knobs = _draw_knobs(rng)
    applications = bool(rng.random() < _APPLICATIONS_P)
    tie_weights = bool(rng.random() < _TIE_WEIGHTS_P)
    return _Draws(target, ring_bad_share, knobs, applications, tie_weights)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def _draw_knobs(rng: np.random.Generator) -> dict[str, Any]:
    """Every drawn setting but ``ring_share`` and ``base_logit`` (calibrated after)."""
    median = _log_uniform(rng, 3.5, 40.0)
    size_min = max(3, math.floor(0.75 * median))
    tightness = _log_uniform(rng, 1.0, 28.0)
    subset = int(rng.integers(0, 2 ** len(RING_IDENTIFIERS)))
    shared = tuple(kind for i, kind in enumerate(RING_IDENTIFIERS) if subset >> i & 1)
    per = {kind: round(_log_uniform(rng, 2.0, 20.0)) for kind in RING_IDENTIFIERS}
    return dict(
        ring_size_median=round(median, 2),
        ring_size_sigma=round(float(rng.uniform(0.2, 0.6)), 3),
        ring_size_min=size_min,
        ring_size_max=max(size_min + 2, round(1.5 * median)),
        ring_burst_days=round(tightness, 2),
        ring_apply_delay_days=round(tightness * float(rng.uniform(0.1, 0.5)), 2),
        ring_apply_spread_days=round(tightness * float(rng.uniform(0.5, 1.0)), 2),
        ring_shared_identifiers=shared,
        ring_members_per_device=per["device"],
        ring_members_per_phone=per["phone"],
        ring_members_per_card=per["card"],
        ring_logit_mean=round(float(rng.uniform(0.0, 2.5)), 3),
        intermediary_client_share=round(float(rng.uniform(0.0, 0.08)), 4),
        agent_clients_median=round(_log_uniform(rng, 5.0, 80.0), 1),
        agent_device_share=round(float(rng.uniform(0.2, 0.95)), 3),
        agent_phone_share=round(float(rng.uniform(0.0, 0.5)), 3),
        agent_logit_mean=round(float(rng.uniform(-0.5, 1.0)), 3),
        multi_borrower_share=round(float(rng.uniform(0.02, 0.10)), 4),
        exposure_weight=round(float(rng.uniform(0.0, 1.2)), 3),
        community_effect_scale=round(float(rng.uniform(0.0, 2.5)), 3),
        community_size=round(_log_uniform(rng, 50.0, 400.0)),
        label_delay_scale=round(_log_uniform(rng, 0.5, 2.0), 3),
        thin_file_share=round(float(rng.uniform(0.0, 0.4)), 3),
    )


def _story(
    c: PopulationConfig,
    ring_bad_share: float,
    target: float,
    applications: bool,
    tie_weights: bool,
) -> dict[str, str]:
    """The drawn knobs in words."""
    shared = ", ".join(
        f"{kind} (1 per {getattr(c, f'ring_members_per_{kind}')})"
        for kind in c.ring_shared_identifiers
    )
    ring_bad = 1.0 / (1.0 + math.exp(-c.ring_logit_mean))
    return {
        "bad rate": f"{target:.2%} among labelled users (base_logit {c.base_logit:.2f})",
        "rings": (
            f"{c.ring_share:.3%} of users, {ring_bad_share:.0%} of labelled bads; sizes "
            f"{c.ring_size_min}-{c.ring_size_max} (median {c.ring_size_median:g}); "
            f"about {ring_bad:.0%} bad"
        ),
        "ring timing": (
            f"register within {c.ring_burst_days:g} days, first application after "
            f"~{c.ring_apply_delay_days:g} days, the rest within {c.ring_apply_spread_days:g}"
        ),
        "ring identifiers": shared or "none shared",
        "intermediaries": (
            f"{c.intermediary_client_share:.1%} of users, ~{c.agent_clients_median:g} clients "
            f"per agent, {c.agent_device_share:.0%} of their applications from the agent's "
            f"devices, agent effect {c.agent_logit_mean:+.2f}"
        ),
        "multi-borrowers": f"{c.multi_borrower_share:.1%} of users",
        "social ties": f"exposure weight {c.exposure_weight:.2f}",
        "communities": (f"~{c.community_size} users, effect x{c.community_effect_scale:.2f}"),
        "labels": f"delay x{c.label_delay_scale:.2f}",
        "thin files": f"{c.thin_file_share:.0%}",
        "input": (
            f"{'with' if applications else 'no'} applications table, "
            f"{'with' if tie_weights else 'no'} tie weights"
        ),
    }
