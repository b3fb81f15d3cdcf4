"""Randomized synthetic worlds: drawn knobs, calibrated bad rate, the lender's input."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from riskgraph.errors import ConfigError
from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.synthetic import (
    PopulationConfig,
    SyntheticPopulation,
    World,
    apply_world,
    generate_population,
    generate_world,
    random_world,
)
from riskgraph.loaders.synthetic.calibration import Pilots, calibrate_base_logit
from riskgraph.loaders.synthetic.config import RING_IDENTIFIERS
from riskgraph.loaders.synthetic.worlds import _draw

KEY = "synthetic-test-key-0123456789"
WORLD_SEEDS = range(10)
WORLD_USERS = 20_000


# -- drawing -----------------------------------------------------------------------------


def test_random_world_is_reproducible_per_seed_and_differs_across_seeds() -> None:
    world = random_world(5)
    assert random_world(5) == world
    other = random_world(6)
    assert other != world
    a, b = world.config, other.config
    differing = [f for f in vars(a) if getattr(a, f) != getattr(b, f)]
    assert len(differing) >= 15, differing
    assert world.story != other.story
    assert isinstance(world.story["rings"], str) and world.story["input"]


def test_drawn_knobs_cover_their_ranges() -> None:
    draws = [_draw(seed) for seed in range(400)]
    targets = [d.target_bad_rate for d in draws]
    assert 0.005 <= min(targets) < 0.007 and 0.12 < max(targets) <= 0.15
    knobs = {name: [d.knobs[name] for d in draws] for name in draws[0].knobs}
    assert min(knobs["ring_size_max"]) <= 6 and min(knobs["ring_size_min"]) == 3
    assert max(knobs["ring_size_min"]) >= 25 and max(knobs["ring_size_max"]) >= 50
    assert min(knobs["ring_burst_days"]) < 1.2 and max(knobs["ring_burst_days"]) > 24
    assert {len(s) for s in knobs["ring_shared_identifiers"]} == {0, 1, 2, 3}
    assert len({frozenset(s) for s in knobs["ring_shared_identifiers"]}) == 8
    for kind in RING_IDENTIFIERS:
        per = knobs[f"ring_members_per_{kind}"]
        assert min(per) == 2 and max(per) == 20
    assert min(knobs["exposure_weight"]) < 0.05 and max(knobs["exposure_weight"]) > 1.1
    assert min(knobs["community_effect_scale"]) < 0.05
    assert max(knobs["community_effect_scale"]) > 2.3
    assert min(knobs["label_delay_scale"]) < 0.55 and max(knobs["label_delay_scale"]) > 1.8
    assert min(knobs["thin_file_share"]) < 0.02 and max(knobs["thin_file_share"]) > 0.38
    assert 0.68 < sum(d.applications for d in draws) / len(draws) < 0.82
    assert 0.42 < sum(d.tie_weights for d in draws) / len(draws) < 0.58
    for d in draws:  # every draw is a valid configuration
        PopulationConfig(**d.knobs, ring_share=0.01).validate()


# -- calibration -------------------------------------------------------------------------


def test_calibration_reaches_the_target_and_names_an_unreachable_one() -> None:
    config = PopulationConfig()
    low = calibrate_base_logit(config, 0.04, Pilots(n_users=3000, seeds=(1,)))
    high = calibrate_base_logit(config, 0.12, Pilots(n_users=3000, seeds=(1,)))
    assert low.bad_rate == pytest.approx(0.04, rel=1e-4)
    assert high.bad_rate == pytest.approx(0.12, rel=1e-4)
    assert low.base_logit < high.base_logit
    assert 0 < high.ring_bad_share < low.ring_bad_share < 1
    # ring members' risk ignores the intercept: 1% of users in rings floor the rate
    with pytest.raises(ConfigError, match=r"target_bad_rate = 0.001: .* can only range over"):
        calibrate_base_logit(config, 0.001, Pilots(n_users=3000, seeds=(1,)))
    with pytest.raises(ConfigError, match=r"target_bad_rate = 1.5: expected a rate in \(0, 1\)"):
        calibrate_base_logit(config, 1.5)
    with pytest.raises(ConfigError, match=r"seeds = \(\): expected at least one pilot seed"):
        calibrate_base_logit(config, 0.05, Pilots(seeds=()))
    # several pilots pool their rates: the target is met on their sum, not on each
    pooled = calibrate_base_logit(config, 0.04, Pilots(n_users=3000, seeds=(1, 2)))
    assert pooled.bad_rate == pytest.approx(0.04, rel=1e-4)
    assert pooled.base_logit != low.base_logit


# -- the lender's input ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> SyntheticPopulation:
    return generate_population(1500, seed=11)


@pytest.mark.parametrize(
    ("applications", "tie_weights"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_apply_world_drops_what_the_world_says_and_the_contract_accepts_it(
    small: SyntheticPopulation, applications: bool, tie_weights: bool
) -> None:
    world = World(0, PopulationConfig(), applications, tie_weights, 0.08, 180, story={})
    tables = apply_world(world, small.tables)
    assert ("applications" in tables) == applications
    assert ("weight" in tables["social"].columns) == tie_weights
    assert "weight" in small.tables["social"].columns  # the input is left alone
    assert len(small.tables) == 5
    result = build_graph_tables(tables, hmac_key=KEY)
    assert result.rejected_total == 0
    loaded = {name: count["loaded"] for name, count in result.counts.items() if count["rows"]}
    assert loaded == {name: len(table) for name, table in tables.items()}


def test_generate_world_uses_the_worlds_seed_days_and_config() -> None:
    world = replace(random_world(2), days=90)
    pop = generate_world(world, 800)
    same = generate_population(800, seed=2, days=90, config=world.config)
    assert pop.seed == 2 and pop.days == 90 and pop.config == world.config
    assert pop.tables["users"].equals(same.tables["users"])
    assert pop.truth.equals(same.truth)
    assert set(pop.tables) == set(apply_world(world, same.tables))
    assert generate_world(world, 800, seed=3).seed == 3


# -- ten worlds at 20,000 users ----------------------------------------------------------


@pytest.fixture(scope="module")
def worlds() -> dict[int, tuple[World, SyntheticPopulation, float]]:
    """Seeds 0-9: the world, its 20,000-user population and the seconds it took."""
    out = {}
    for seed in WORLD_SEEDS:
        world = random_world(seed)
        started = time.perf_counter()
        pop = generate_world(world, WORLD_USERS)
        out[seed] = (world, pop, time.perf_counter() - started)
    return out


@pytest.mark.slow
def test_realized_bad_rate_is_near_the_target(
    worlds: dict[int, tuple[World, SyntheticPopulation, float]],
) -> None:
    for seed, (world, pop, _) in worlds.items():
        labels = pop.tables["users"]["label"].dropna().astype(float)
        realized = labels.mean()
        assert world.target_bad_rate / 1.5 <= realized <= world.target_bad_rate * 1.5, (
            seed,
            world.target_bad_rate,
            realized,
            len(labels),
        )
    targets = sorted(world.target_bad_rate for world, _, _ in worlds.values())
    assert targets[0] < 0.01 and targets[-1] > 0.1  # the seeds span the range


@pytest.mark.slow
def test_every_world_is_valid_under_the_contract_and_quick_to_generate(
    worlds: dict[int, tuple[World, SyntheticPopulation, float]],
) -> None:
    for seed, (world, pop, seconds) in worlds.items():
        assert seconds < 30, (seed, seconds)
        assert ("applications" in pop.tables) == world.applications
        assert ("weight" in pop.tables["social"].columns) == world.tie_weights
        # the contract's rules do not depend on size: a smaller population loads faster
        small = generate_world(world, 3000)
        result = build_graph_tables(small.tables, hmac_key=KEY)
        assert result.rejected_total == 0, seed
        assert result.tables.num_users == 3000
    input_kinds = {(w.applications, w.tie_weights) for w, _, _ in worlds.values()}
    assert len(input_kinds) >= 3  # the ten worlds mix the input shapes
