"""The generator's story knobs: defaults reproduce the pinned population, each knob acts."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.loaders.synthetic import (
    DEFAULT_END,
    PopulationConfig,
    SyntheticPopulation,
    generate_population,
)
from riskgraph.loaders.synthetic.labels import label_known_probability
from riskgraph.loaders.synthetic.population import window
from riskgraph.loaders.synthetic.sampling import (
    group_starts,
    pick_from_pools,
    pool_sizes,
    rank_in_group,
)
from riskgraph.loaders.synthetic.story import draw_story

# sha256 of every table and the truth of 2,000 users under the default configuration,
# as the generator drew them before the knobs below existed: the defaults must keep
# every seed's population exactly as it was. (Spelled by _spelled; with floats in full,
# off AVX-512, the same populations gave 0b426bff... and 52d2e169..., the first pins.)
PINNED = {
    0: "d16260ce52c51caf5f7b2c64017116155bebdfdf737478eb05843f09d01c816c",
    3: "5c8ce1a01df048d49d009597ec8f940df7ff7c1d1ea2ee44de10426fba880f74",
}


def population_digest(pop: SyntheticPopulation) -> str:
    """sha256 of the tables and the truth: names, lengths, columns, dtypes and values.

    Values go in as their ``str`` (floats as their shortest round-trip repr), so the
    digest does not depend on how pandas hashes or lays out memory.
    """
    h = hashlib.sha256()
    for name, frame in [*sorted(pop.tables.items()), ("truth", pop.truth)]:
        h.update(f"{name}|{len(frame)}".encode())
        for column in frame.columns:
            dtype, values = _spelled(frame[column])
            h.update(f"|{column}:{dtype}|".encode())
            h.update("\x1f".join(values).encode())
    return h.hexdigest()


def _spelled(series: pd.Series) -> tuple[str, list[str]]:
    """A column's dtype and values, spelled the same by every pandas and every CPU.

    Strings as ``object`` with None for missing (pandas 3 says ``str`` and NaN). Floats
    to 12 significant digits: numpy's transcendental functions take other SIMD paths
    on other CPUs (AVX-512 or not) and may differ in the last bit, which is no change of
    the population."""
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        return "object", ["None" if pd.isna(v) else str(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(series.dtype):
        return str(series.dtype), [f"{v:.12g}" for v in series.tolist()]
    return str(series.dtype), list(map(str, series.tolist()))


@pytest.mark.parametrize("seed", sorted(PINNED))
def test_default_config_reproduces_the_pinned_population(seed: int) -> None:
    assert population_digest(generate_population(2000, seed=seed)) == PINNED[seed]


# -- rings ---------------------------------------------------------------------------

N = 4000
RINGY = dict(ring_share=0.04)

# Identifier kind -> (table, filter on that table's rows).
KINDS = {
    "device": ("user_devices", None),
    "phone": ("user_accounts", "phone"),
    "card": ("user_accounts", "bank_card"),
}


def ring_sharing(pop: SyntheticPopulation) -> dict[str, int]:
    """Per identifier kind: how many identifiers link two or more ring members."""
    members = pop.truth.loc[pop.truth["role"] == "ring", "user_id"]
    out = {}
    for kind, (table, account_type) in KINDS.items():
        links = pop.tables[table]
        if account_type is not None:
            links = links[links["account_type"] == account_type]
        node = "device_id" if table == "user_devices" else "account_id"
        ring_links = links[links["user_id"].isin(members)]
        out[kind] = int((ring_links.groupby(node)["user_id"].nunique() > 1).sum())
    return out


@pytest.mark.parametrize(
    "shared", [("device", "phone", "card"), ("device", "card"), ("phone",), ()]
)
def test_rings_share_only_the_identifier_kinds_chosen(shared: tuple[str, ...]) -> None:
    config = PopulationConfig(**RINGY, ring_shared_identifiers=shared)
    pop = generate_population(N, seed=1, config=config)
    sharing = ring_sharing(pop)
    assert {kind for kind, count in sharing.items() if count > 0} == set(shared)


def test_a_ring_that_shares_nothing_links_to_nobody_through_identifiers() -> None:
    config = PopulationConfig(**RINGY, ring_shared_identifiers=())
    pop = generate_population(N, seed=2, config=config)
    members = set(pop.truth.loc[pop.truth["role"] == "ring", "user_id"])
    assert len(members) > 50
    for table, node in (("user_devices", "device_id"), ("user_accounts", "account_id")):
        links = pop.tables[table]
        touched = links.loc[links["user_id"].isin(members), node]
        users_per_node = links[links[node].isin(touched)].groupby(node)["user_id"].nunique()
        assert (users_per_node == 1).all(), table
    # their applications still come from a device of their own
    apps = pop.tables["applications"]
    ring_apps = apps[apps["user_id"].isin(members)]
    assert ring_apps["device_id"].notna().all()
    assert ring_apps.groupby("device_id")["user_id"].nunique().max() == 1


def test_ring_members_per_identifier_sets_the_pool_size() -> None:
    config = PopulationConfig(**RINGY, ring_members_per_device=2, ring_members_per_card=20)
    pop = generate_population(N, seed=1, config=config)
    default = generate_population(N, seed=1, config=PopulationConfig(**RINGY))
    assert ring_sharing(pop)["device"] > 2 * ring_sharing(default)["device"]
    assert ring_sharing(pop)["card"] < ring_sharing(default)["card"]


def ring_spans(pop: SyntheticPopulation) -> pd.DataFrame:
    """Per ring member: registration, first application and days first-to-last."""
    truth = pop.truth[pop.truth["role"] == "ring"][["user_id", "ring_id"]]
    apps = pop.tables["applications"].merge(truth, on="user_id")
    per_user = apps.groupby("user_id")["applied_at"].agg(["min", "max"])
    users = pop.tables["users"].set_index("user_id")["registered_at"]
    day = pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "ring_id": truth.set_index("user_id")["ring_id"],
            "registered": users,
            "first_delay": (per_user["min"] - users) / day,
            "spread": (per_user["max"] - per_user["min"]) / day,
        }
    ).dropna(subset=["ring_id"])


def test_ring_tightness_knobs_set_registration_and_application_windows() -> None:
    loose = PopulationConfig(
        **RINGY, ring_burst_days=21.0, ring_apply_delay_days=7.0, ring_apply_spread_days=20.0
    )
    spans = {
        name: ring_spans(generate_population(N, seed=4, days=365, config=config))
        for name, config in (("tight", PopulationConfig(**RINGY)), ("loose", loose))
    }
    for name, burst, spread in (("tight", 4, 3), ("loose", 21, 20)):
        s = spans[name]
        registered = s.groupby("ring_id")["registered"]
        width = (registered.max() - registered.min()) / pd.Timedelta(days=1)
        assert width.max() <= burst and width.max() > 0.6 * burst, name
        assert s["spread"].max() <= spread and s["spread"].max() > 0.6 * spread, name
    assert spans["tight"]["first_delay"].mean() == pytest.approx(1.0, rel=0.35)
    assert spans["loose"]["first_delay"].mean() == pytest.approx(7.0, rel=0.35)


def test_ring_and_agent_logit_means_move_their_risk() -> None:
    base = generate_population(N, seed=5, config=PopulationConfig(**RINGY))
    moved = generate_population(
        N, seed=5, config=PopulationConfig(**RINGY, ring_logit_mean=-0.5, agent_logit_mean=1.5)
    )
    before = base.truth.groupby("role")["p_bad"].mean()
    after = moved.truth.groupby("role")["p_bad"].mean()
    assert before["ring"] > 0.7 and after["ring"] < 0.45
    assert after["intermediary_client"] > 2 * before["intermediary_client"]
    assert after["normal"] == pytest.approx(before["normal"], rel=0.05)


# -- risk spreading within communities -------------------------------------------------


def logit(p: pd.Series) -> np.ndarray:
    p = p.to_numpy()
    return np.log(p) - np.log1p(-p)


def test_community_effect_scale_scales_the_community_part_of_the_log_odds() -> None:
    # Without exposure, the scale changes nothing but the community term, and draws
    # nothing: the same seed's log-odds differ by exactly that term.
    truth = {
        scale: generate_population(
            N, seed=6, config=PopulationConfig(exposure_weight=0.0, community_effect_scale=scale)
        ).truth
        for scale in (0.0, 1.0, 2.0)
    }
    normal = (truth[0.0]["role"] != "ring").to_numpy()
    effect = (logit(truth[1.0]["p_bad"]) - logit(truth[0.0]["p_bad"]))[normal]
    community = truth[0.0]["community_id"].to_numpy()[normal]
    per_community = pd.Series(effect).groupby(community)
    assert per_community.std().max() < 1e-6  # one value per community: nothing else moved
    assert 0.4 < per_community.first().std() < 0.9  # the community effect, SD ~0.64
    doubled = (logit(truth[2.0]["p_bad"]) - logit(truth[0.0]["p_bad"]))[normal]
    np.testing.assert_allclose(doubled, 2 * effect, atol=1e-6)


# -- labels ------------------------------------------------------------------------------


def test_label_delay_scale_stretches_every_lag() -> None:
    pops = {
        scale: generate_population(
            N, seed=7, days=365, config=PopulationConfig(label_delay_scale=scale)
        )
        for scale in (1.0, 2.0)
    }
    lags = {}
    for scale, pop in pops.items():
        users = pop.tables["users"].merge(pop.truth, on="user_id")
        labelled = users.dropna(subset=["label_at"]).set_index("user_id")
        lags[scale] = (labelled["label_at"] - labelled["first_approved_at"]).dt.total_seconds()
    both = lags[2.0].index
    assert set(both) < set(lags[1.0].index)  # later labels: fewer known by the end
    stretch = lags[2.0] - 2 * lags[1.0].loc[both]
    assert stretch.between(0, 2).all()  # lag rounds down to the second
    assert lags[2.0].median() == pytest.approx(2 * lags[1.0].loc[both].median(), rel=1e-6)
    # the scale draws nothing: outcomes and approvals are those of the same seed
    assert pops[2.0].truth["outcome"].equals(pops[1.0].truth["outcome"])
    assert pops[2.0].truth["first_approved_at"].equals(pops[1.0].truth["first_approved_at"])


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("ring_shared_identifiers", ("device", "sim"), "expected a tuple of distinct kinds"),
        ("ring_shared_identifiers", ("card", "card"), "expected a tuple of distinct kinds"),
        ("ring_shared_identifiers", "device", "expected a tuple of distinct kinds"),
        ("community_effect_scale", -0.5, "expected >= 0"),
        ("label_delay_scale", 0.0, "expected > 0"),
        ("ring_apply_spread_days", -1.0, "expected > 0"),
        ("base_logit", float("nan"), "expected a finite number"),
    ],
)
def test_new_settings_are_validated(setting: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"PopulationConfig.{setting} = .*{message}"):
        generate_population(10, config=PopulationConfig(**{setting: value}))


# -- helpers -------------------------------------------------------------------------------


def test_pools_give_each_member_its_own_item_unless_shared() -> None:
    group = np.array([1, 0, 1, 1, 0, 1])
    assert rank_in_group(group).tolist() == [0, 0, 1, 2, 1, 3]
    size = np.bincount(group)
    assert pool_sizes(size, 3, shared=True).tolist() == [1, 2]
    assert pool_sizes(size, 3, shared=False).tolist() == [2, 4]
    for shared in (True, False):
        pool = pool_sizes(size, 3, shared)
        start = group_starts(pool)
        items = pick_from_pools(group, start, pool, shared, np.random.default_rng(0))
        assert ((items >= start[group]) & (items < start[group] + pool[group])).all()
        assert (len(set(items.tolist())) == len(group)) == (not shared)


@pytest.mark.parametrize("delay_scale", [1.0, 2.0])
def test_label_known_probability_predicts_the_drawn_labels(delay_scale: float) -> None:
    config = PopulationConfig(label_delay_scale=delay_scale)
    _, start, end = window(180, DEFAULT_END)
    story = draw_story(20_000, config, 3, start, end)
    outcome = story.outcomes.outcome
    known = label_known_probability(story.cohort, outcome, story.labels.approved_at, config, end)
    drawn = int((story.labels.label >= 0).sum())
    # the labelled count is a sum of independent Bernoulli draws with these chances
    sd = float(np.sqrt((known * (1 - known)).sum()))
    assert abs(drawn - known.sum()) < 4 * sd
    assert known[story.labels.approved_at < 0].max() == 0.0
