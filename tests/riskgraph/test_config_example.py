"""docs/riskgraph.example.toml: loads, holds the defaults, and names every setting."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from riskgraph.pipeline import PipelineConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "riskgraph.example.toml"


def _setting_paths(obj: object, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            paths |= _setting_paths(value, path + ".")
        else:
            paths.add(path)
    return paths


def _documented_paths(text: str) -> set[str]:
    """Every ``key = value`` line, commented out or not, under its ``[table]``."""
    paths, table = set(), ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]", line)
        if header:
            table = header.group(1)
            continue
        key = re.match(r"^#?\s*(\w+)\s*=", line)
        if key and table != "security":
            paths.add(f"{table}.{key.group(1)}")
    return paths


def test_example_config_loads_to_the_defaults():
    assert PipelineConfig.from_file(EXAMPLE) == PipelineConfig()


def test_example_config_names_every_setting():
    from riskgraph.online import OnlineConfig

    documented = _documented_paths(EXAMPLE.read_text(encoding="utf-8"))
    service = {p for p in documented if p.split(".")[0] in ("serve", "online")}
    assert documented - service == _setting_paths(PipelineConfig())
    # the service's tables: its token file, and every setting of its online scorer
    assert service == {"serve.token_file"} | _setting_paths(OnlineConfig(), "online.")


def test_example_online_table_holds_the_services_defaults():
    import tomllib

    from riskgraph.config import dataclass_from_mapping
    from riskgraph.online import OnlineConfig

    table = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["online"]
    # riskgraph serve's default scope; every other setting OnlineConfig's own default
    assert dataclass_from_mapping(OnlineConfig, table, "example") == OnlineConfig(
        scope="neighbourhood"
    )
