"""Defaults have one home, DEFAULTS in rateprobe.config: the schema declares none (Snakemake's
validate would fill them in), and config.yaml restates none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rateprobe.config import DEFAULTS

REPO = Path(__file__).resolve().parents[1]


def _keys_with_defaults(schema: Any, path: str = "") -> list[str]:
    if not isinstance(schema, dict):
        return []
    found = [path or "<top level>"] if "default" in schema else []
    for key, sub in schema.get("properties", {}).items():
        found += _keys_with_defaults(sub, f"{path}.{key}" if path else key)
    return found


def _restated(config: Any, defaults: Any, path: str = "") -> list[str]:
    if isinstance(config, dict) and isinstance(defaults, dict):
        return [
            found
            for key, value in config.items()
            if key in defaults
            for found in _restated(value, defaults[key], f"{path}.{key}" if path else key)
        ]
    return [path] if config == defaults else []


def test_the_schema_declares_no_default() -> None:
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    assert _keys_with_defaults(schema) == []


def test_config_yaml_states_only_its_own_choices() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert _restated(config, DEFAULTS) == []
