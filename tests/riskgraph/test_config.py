"""Configuration: typed dataclasses from TOML, clear errors, key resolution."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from riskgraph.config import (
    dataclass_from_mapping,
    demo_hmac_key,
    find_config_file,
    read_config_file,
    resolve_hmac_key,
)
from riskgraph.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    max_sharing: int = 20
    weight: float = 0.5


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    mode: Literal["fast", "exact"] = "fast"
    windows: tuple[int, ...] = (1, 7)


def test_defaults_and_overrides():
    assert dataclass_from_mapping(Outer, None, "x") == Outer()
    got = dataclass_from_mapping(
        Outer, {"inner": {"weight": 1}, "mode": "exact", "windows": [30]}, "f.toml"
    )
    assert got == Outer(Inner(20, 1.0), "exact", (30,))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"nope": 1},
            r"f\.toml: unknown key\(s\) \['nope'\]; allowed: \['inner', 'mode', 'windows'\]",
        ),
        ({"mode": "slow"}, r"f\.toml: mode = 'slow'; allowed: \['fast', 'exact'\]"),
        (
            {"inner": {"max_sharing": "20"}},
            r"f\.toml\.inner: max_sharing = '20' must be int, not str",
        ),
        ({"inner": {"max_sharing": True}}, r"must be a number, not a boolean"),
        ({"inner": 3}, r"inner must be a table"),
    ],
)
def test_bad_values_name_source_key_and_allowed(values, message):
    with pytest.raises(ConfigError, match=message):
        dataclass_from_mapping(Outer, values, "f.toml")


def test_config_file_resolution(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKGRAPH_CONFIG", raising=False)
    assert find_config_file() is None
    (tmp_path / "riskgraph.toml").write_text("[decisions]\ndecline_below = 500\n")
    assert find_config_file() == tmp_path / "riskgraph.toml"
    assert read_config_file(find_config_file()) == {"decisions": {"decline_below": 500}}
    monkeypatch.setenv("RISKGRAPH_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(
        ConfigError, match=r"missing\.toml \(from RISKGRAPH_CONFIG\) does not exist"
    ):
        find_config_file()
    (tmp_path / "bad.toml").write_text("[x\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: cannot be read"):
        read_config_file(tmp_path / "bad.toml")


def test_hmac_key_order_option_env_file(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RISKGRAPH_HMAC_KEY", raising=False)
    with pytest.raises(ConfigError, match="no pseudonymization key"):
        resolve_hmac_key()
    key_file = tmp_path / "k"
    key_file.write_text("from-config-file-key\n")
    os.chmod(key_file, 0o600)
    config = {"security": {"hmac_key_file": str(key_file)}}
    assert resolve_hmac_key(config=config) == b"from-config-file-key"
    monkeypatch.setenv("RISKGRAPH_HMAC_KEY", "from-the-environment")
    assert resolve_hmac_key(config=config) == b"from-the-environment"
    option = tmp_path / "opt"
    option.write_text("from-the-option-file")
    os.chmod(option, 0o600)
    assert resolve_hmac_key(option, config) == b"from-the-option-file"
    os.chmod(option, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        resolve_hmac_key(option, config)


def test_weak_key_file_is_refused(tmp_path: Path):
    key_file = tmp_path / "k"
    key_file.write_text("k" * 16 + "\n")
    os.chmod(key_file, 0o600)
    with pytest.raises(ConfigError, match=r"key from .*/k is too weak: 1 distinct byte"):
        resolve_hmac_key(key_file)


def test_demo_key_is_generated_once_private(tmp_path: Path):
    first = demo_hmac_key(tmp_path / "inst")
    assert len(first) == 64
    assert (tmp_path / "inst" / "hmac.key").stat().st_mode & 0o777 == 0o600
    assert demo_hmac_key(tmp_path / "inst") == first


def test_targets_protected_attributes_and_monitoring_read_from_the_file(tmp_path: Path):
    from riskgraph.pipeline import PipelineConfig

    path = tmp_path / "riskgraph.toml"
    path.write_text(
        "[decisions]\napprove_rate = 0.7\nreview_budget = 0.1\n"
        '[fairness]\nprotected = ["age", "gender"]\n[monitoring]\napplicant_days = 14\n'
    )
    config = PipelineConfig.from_file(path)
    assert config.decisions.targets == {"approve_rate": 0.7, "review_budget": 0.1}
    assert config.fairness.protected == ("age", "gender")
    assert config.monitoring.applicant_days == 14
    path.write_text("[decisions]\nmax_bad_rate = 5\n")
    with pytest.raises(ConfigError, match=r"max_bad_rate = 5.0: expected a share in \(0, 1\]"):
        PipelineConfig.from_file(path)


def test_model_settings_build_the_graph_models_settings_with_its_defaults():
    from riskgraph.gnn.config import DEFAULT_CANDIDATES, GraphRiskConfig
    from riskgraph.modeling import ModelConfig

    # The defaults the two share live in GraphRiskConfig: the nightly default model is
    # the library's default model.
    assert ModelConfig().gnn_config() == GraphRiskConfig(candidates=DEFAULT_CANDIDATES)
    assert ModelConfig().candidates == GraphRiskConfig().candidate_list
    chosen = ModelConfig(seed=7, n_folds=3, candidates=("tabular",), num_threads=1)
    got = chosen.gnn_config()
    assert (got.seed, got.n_folds, got.candidates, got.num_threads) == (7, 3, ("tabular",), 1)
    assert got.label_split.n_folds == 3 and got.label_split.seed == 7
    assert got.hidden == GraphRiskConfig().hidden


def test_the_label_views_time_buckets_and_clock_are_model_settings(tmp_path: Path):
    from riskgraph.modeling import ModelConfig
    from riskgraph.pipeline import PipelineConfig

    path = tmp_path / "riskgraph.toml"
    path.write_text("[model]\ntime_buckets = 1\n")
    model = PipelineConfig.from_file(path).model
    assert model.gnn_config().label_split.time_buckets == 1
    assert ModelConfig().gnn_config().label_split.time_buckets == 6
    with pytest.raises(ConfigError, match=r"model\.time_buckets = 0: expected an integer >= 1"):
        ModelConfig(time_buckets=0).validate()
    path.write_text('[model]\nlabel_clock = "label"\n')
    assert PipelineConfig.from_file(path).model.gnn_config().label_split.clock == "label"
    assert ModelConfig().gnn_config().label_split.clock == "application"
    with pytest.raises(ConfigError, match=r"model\.label_clock = 'arrival': expected one of"):
        ModelConfig(label_clock="arrival").validate()


def test_the_scorecards_out_of_fold_rows_are_a_model_setting(tmp_path: Path):
    from riskgraph.modeling import ModelConfig
    from riskgraph.pipeline import PipelineConfig

    assert ModelConfig().gnn_config().out_of_fold_models == 2
    path = tmp_path / "riskgraph.toml"
    path.write_text("[model]\nout_of_fold_models = 0\n")
    assert PipelineConfig.from_file(path).model.gnn_config().out_of_fold_models == 0
    # every labelled user fits the scorecard in sample: the graph model fits no fold models
    assert ModelConfig(scorecard_rows="labelled").gnn_config().out_of_fold_models == 0
    with pytest.raises(ConfigError, match=r"model\.out_of_fold_models = 1: expected 0 or"):
        ModelConfig(out_of_fold_models=1).validate()
    with pytest.raises(ConfigError, match=r"out_of_fold_models = 6: expected 0 or .* to n_folds"):
        ModelConfig(out_of_fold_models=6).validate()
