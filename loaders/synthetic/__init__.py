"""Synthetic lending populations in the input contract (see docs/synthetic.md)."""

from __future__ import annotations

from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.population import (
    DEFAULT_END,
    SyntheticPopulation,
    generate_population,
)
from riskgraph.loaders.synthetic.worlds import World, apply_world, generate_world, random_world
from riskgraph.loaders.synthetic.write import default_truth_path, write_population

__all__ = [
    "DEFAULT_END",
    "PopulationConfig",
    "SyntheticPopulation",
    "World",
    "apply_world",
    "default_truth_path",
    "generate_population",
    "generate_world",
    "random_world",
    "write_population",
]
