"""``PopulationConfig``: the magnitudes of the synthetic lending population.

Every share, size and rate the generator uses lives here, with where its value comes
from. Most are assumptions (no public source reports them for one lender); the ones
with a public anchor say so. docs/synthetic.md explains the story behind them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from numbers import Real
from typing import TYPE_CHECKING

from riskgraph.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RING_IDENTIFIERS", "LayerDraw", "PopulationConfig"]

#: Identifier kinds a fraud ring can share among its members.
RING_IDENTIFIERS = ("device", "phone", "card")

# Settings that may take any finite value (intercepts and signed weights), and those
# that may be 0; every other number must be positive (shares: in [0, 1]).
_ANY_FINITE = frozenset({"base_logit", "exposure_weight", "ring_logit_mean", "agent_logit_mean"})
_NON_NEGATIVE = frozenset({"community_effect_scale"})


@dataclass(frozen=True)
class PopulationConfig:
    """Shares, group sizes and behaviour rates of a synthetic population.

    The defaults give about 10 relationships per user (as counted by
    :attr:`riskgraph.loaders.tables.GraphTables.num_edges`) and a bad rate of 4-8%
    among labelled users.

    Parameters
    ----------
    ring_share : float
        Share of users who are synthetic identities in fraud rings (assumption; fraud
        rings are a small share of applicants but a large share of losses).
    ring_size_median, ring_size_sigma : float
        Ring sizes are log-normal with this median and log-scale spread, clipped to
        ``ring_size_min``-``ring_size_max`` (assumption: tens of identities per ring).
    ring_burst_days : float
        Ring members register within this many days of each other (assumption).
    ring_apply_delay_days : float
        Mean days from a ring member's registration to its first application
        (exponential; assumption: a synthetic identity is used at once).
    ring_apply_spread_days : float
        A ring member's later applications fall within this many days of its first
        (assumption: a burst, before the platforms compare notes).
    ring_shared_identifiers : tuple of str
        Which identifier kinds a ring shares among its members, any subset of
        :data:`RING_IDENTIFIERS` (``"device"``, ``"phone"``, ``"card"``), in any order.
        A kind left out still exists, one per member, shared with nobody.
    ring_members_per_device, ring_members_per_phone, ring_members_per_card : int
        A ring shares one device per this many members (at least one), and likewise
        phone numbers (SIM cards) and bank cards (assumption: "a few" shared devices).
    ring_logit_mean : float
        Mean of the ring-level default log-odds that replaces a ring member's own
        (assumption: most synthetic identities never repay).
    intermediary_client_share : float
        Share of users recruited by loan intermediaries (assumption).
    agent_clients_median, agent_clients_sigma : float
        Clients per intermediary, log-normal (assumption).
    agent_device_share : float
        Share of an intermediary client's applications filed from the agent's own
        devices (assumption).
    agent_logit_mean : float
        Mean of an intermediary's effect on its clients' default log-odds, on top of
        the clients' own (assumption: agents range from form-fillers to fraud packagers
        around a neutral mean).
    agent_phone_share : float
        Share of clients on whom the agent links the agent's own phone number, to
        receive the verification codes (assumption).
    multi_borrower_share : float
        Share of users who are stressed multi-borrowers, applying at several platforms
        within two weeks. A 2017 Beijing Internet Finance Industry Association study of
        61 online lenders found 44% of customers borrowing from several sources; this
        is the heavy, short-window subset (assumption).
    household_share : float
        Share of users living with another user of the lender (assumption).
    household_tablet_share : float
        Share of households whose members share a tablet (assumption).
    household_card_share : float
        Share of households where members link the same bank card (assumption).
    users_per_public_device : int
        One public device (internet cafe PC, phone-shop demo phone) per this many users.
    public_device_user_share : float
        Share of users who used a public device at least once (assumption).
    community_size : int
        Mean size of a social community, the unit of homophily (assumption).
    community_effect_scale : float
        Multiplies the community effect on the default log-odds (the part of a
        community's risk its members' own files do not show; 0 = none, 1 = the
        story of docs/synthetic.md). At least 0.
    thin_file_share : float
        Share of users without credit history. The CFPB counts about 11% of US adults
        as credit invisible and 8% more as unscorable (Data Point: Credit Invisibles,
        2015); new-to-credit applicants are over-represented at online lenders.
    apply_share : float
        Share of ordinary users who apply at least once (the rest only register).
    n_platforms : int
        Number of lending platforms; market shares follow Zipf's law (assumption:
        a few large lenders and a long tail, as in Chinese online consumer credit).
    base_logit : float
        Intercept of the true default logit of an ordinary user with average
        attributes (sets the overall bad rate; see docs/synthetic.md).
    exposure_weight : float
        Weight of the mean risk of a user's social neighbours in the user's own
        default logit (peer effects; assumption).
    label_delay_scale : float
        Multiplies the lag from a user's first approved loan to the label (1 = the
        industry definitions of docs/synthetic.md; 2 = twice as long).
    """

    ring_share: float = 0.01
    ring_size_median: float = 10.0
    ring_size_sigma: float = 0.6
    ring_size_min: int = 3
    ring_size_max: int = 60
    ring_burst_days: float = 4.0
    ring_apply_delay_days: float = 1.0
    ring_apply_spread_days: float = 3.0
    ring_shared_identifiers: tuple[str, ...] = RING_IDENTIFIERS
    ring_members_per_device: int = 8
    ring_members_per_phone: int = 4
    ring_members_per_card: int = 5
    ring_logit_mean: float = 1.8
    intermediary_client_share: float = 0.03
    agent_clients_median: float = 20.0
    agent_clients_sigma: float = 0.7
    agent_device_share: float = 0.75
    agent_logit_mean: float = 0.0
    agent_phone_share: float = 0.2
    multi_borrower_share: float = 0.06
    household_share: float = 0.22
    household_tablet_share: float = 0.3
    household_card_share: float = 0.15
    users_per_public_device: int = 4000
    public_device_user_share: float = 0.03
    community_size: int = 150
    community_effect_scale: float = 1.0
    thin_file_share: float = 0.15
    apply_share: float = 0.6
    n_platforms: int = 48
    base_logit: float = -4.3
    exposure_weight: float = 0.35
    label_delay_scale: float = 1.0

    def validate(self) -> PopulationConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and the allowed range.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "ring_shared_identifiers":
                self._check_identifiers(value)
            else:
                self._check_number(f.name, value)
        if self.ring_size_min > self.ring_size_max:
            raise ConfigError(
                f"PopulationConfig.ring_size_min = {self.ring_size_min} exceeds "
                f"ring_size_max = {self.ring_size_max}"
            )
        special = self.ring_share + self.intermediary_client_share + self.multi_borrower_share
        if special > 0.5:
            raise ConfigError(
                "PopulationConfig: ring_share + intermediary_client_share + "
                f"multi_borrower_share = {special:.3f}; expected at most 0.5"
            )
        return self

    @staticmethod
    def _check_number(name: str, value: object) -> None:
        if isinstance(value, Real) and math.isfinite(value):
            number = float(value)
            if name.endswith("_share"):
                fits, expected = 0.0 <= number <= 1.0, "a share in [0, 1]"
            elif name in _NON_NEGATIVE:
                fits, expected = number >= 0.0, ">= 0"
            else:
                fits, expected = name in _ANY_FINITE or number > 0.0, "> 0"
            if fits:
                return
        else:
            expected = "a finite number"
        raise ConfigError(f"PopulationConfig.{name} = {value!r}: expected {expected}")

    @staticmethod
    def _check_identifiers(value: object) -> None:
        if (
            not isinstance(value, tuple)
            or not all(isinstance(kind, str) and kind in RING_IDENTIFIERS for kind in value)
            or len(set(value)) != len(value)
        ):
            raise ConfigError(
                f"PopulationConfig.ring_shared_identifiers = {value!r}: expected a tuple of "
                f"distinct kinds among {RING_IDENTIFIERS}"
            )

    def is_ring_shared(self, kind: str) -> bool:
        """Whether rings share identifiers of ``kind`` (one of :data:`RING_IDENTIFIERS`)."""
        return kind in self.ring_shared_identifiers


@dataclass(frozen=True)
class LayerDraw:
    """What one layer of the synthetic story draws with.

    Attributes
    ----------
    config : PopulationConfig
        The population's settings.
    end : int
        End of the window, seconds since the epoch.
    rng : np.random.Generator
        The layer's own random stream (:func:`~riskgraph.loaders.synthetic.story.stage_rng`).
    """

    config: PopulationConfig
    end: int
    rng: np.random.Generator
