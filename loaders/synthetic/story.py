"""``draw_story``: every layer of the generative story, drawn in order.

The story (docs/synthetic.md) runs in layers, each in its own module: who the users
are (:mod:`.cohort`), what a lender sees of them (:mod:`.attributes`), when they
apply (:mod:`.applications`), their devices (:mod:`.devices`), accounts
(:mod:`.accounts`) and ties (:mod:`.social`), their true risk (:mod:`.outcomes`),
what the lender learns of it and when (:mod:`.labels`). Each layer draws from a
random stream of its own, so a knob of one layer leaves the others' draws alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.accounts import Accounts, draw_accounts
from riskgraph.loaders.synthetic.applications import (
    ApplicationDetails,
    ApplicationTimes,
    draw_application_details,
    draw_application_times,
    platform_weights,
)
from riskgraph.loaders.synthetic.attributes import Attributes, draw_attributes
from riskgraph.loaders.synthetic.cohort import Cohort, build_cohort
from riskgraph.loaders.synthetic.config import LayerDraw, PopulationConfig
from riskgraph.loaders.synthetic.devices import Devices, draw_devices
from riskgraph.loaders.synthetic.labels import Labels, draw_labels
from riskgraph.loaders.synthetic.outcomes import Outcomes, draw_outcomes
from riskgraph.loaders.synthetic.social import SocialTies, draw_social

__all__ = ["STAGES", "Story", "draw_story", "stage_rng"]

#: The random streams, one per layer (plus platform shares and identifiers).
STAGES = (
    "cohort", "attributes", "times", "devices", "accounts", "social",
    "outcomes", "details", "labels", "platforms", "identifiers",
)  # fmt: skip


@dataclass(frozen=True)
class Story:
    """The drawn layers of one population (arrays indexed by user, device, ...).

    Attributes
    ----------
    cohort, attributes, times, devices, accounts, social, outcomes, details, labels
        What each layer's ``draw_*`` function returned.
    platform_weights : np.ndarray
        ``float64`` ``(n_platforms,)``: market shares.
    """

    cohort: Cohort
    attributes: Attributes
    times: ApplicationTimes
    devices: Devices
    accounts: Accounts
    social: SocialTies
    outcomes: Outcomes
    platform_weights: np.ndarray
    details: ApplicationDetails
    labels: Labels


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """A fresh generator of ``stage``'s random stream for ``seed``.

    Examples
    --------
    >>> a, b = stage_rng(0, "outcomes"), stage_rng(0, "outcomes")
    >>> bool(a.random() == b.random() != stage_rng(0, "labels").random())
    True
    """
    child = np.random.SeedSequence(seed).spawn(len(STAGES))[STAGES.index(stage)]
    return np.random.default_rng(child)


def draw_story(n: int, config: PopulationConfig, seed: int, start: int, end: int) -> Story:
    """Draw every layer for ``n`` users registering in ``[start, end)`` (epoch seconds).

    ``config`` must be valid (:meth:`PopulationConfig.validate`). The ``identifiers``
    stream is left to whoever lays the story out as tables.
    """
    rngs = {stage: stage_rng(seed, stage) for stage in STAGES}
    cohort = build_cohort(n, config, start, end, rngs["cohort"])
    attributes = draw_attributes(cohort, config, rngs["attributes"])
    times = draw_application_times(cohort, attributes, config, end, rngs["times"])
    devices = draw_devices(cohort, times.first_applied, config, end, rngs["devices"])
    accounts = draw_accounts(cohort, config, end, rngs["accounts"])
    social = draw_social(cohort, times.first_applied, end, rngs["social"])
    outcomes = draw_outcomes(cohort, attributes, social, config, rngs["outcomes"])
    weights = platform_weights(config.n_platforms, rngs["platforms"])
    details = draw_application_details(
        times, cohort, attributes, devices, weights, LayerDraw(config, end, rngs["details"])
    )
    labels = draw_labels(
        cohort, outcomes.outcome, times, details, LayerDraw(config, end, rngs["labels"])
    )
    return Story(
        cohort, attributes, times, devices, accounts, social, outcomes, weights, details, labels
    )
