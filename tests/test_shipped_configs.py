"""Every ready configuration in config/ is valid on top of the default config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rateprobe.config import merge_config, resolve_config
from rateprobe.config_schema import check_schema

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_a_shipped_configuration_passes_the_schema_and_resolves(path: Path) -> None:
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    shipped = yaml.safe_load(path.read_text())
    config = merge_config(base, shipped)

    check_schema(config, REPO / "schemas" / "config.schema.yaml")
    resolved = resolve_config(config)

    # A file that sets a corpus sets a real one; the others (extra_models) add to any corpus.
    if "corpus" in shipped:
        assert resolved["corpus"]["kind"] == "librispeech"
    assert resolved["models"]
