"""The configuration as given, checked before it is resolved (rateprobe.config): every schema
violation named by its key, a key given twice in a config file refused, and the strings of
Snakemake's --config typed as the schema (schemas/config.schema.yaml) asks."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rateprobe.config import ConfigError


def load_schema(schema_path: str | Path) -> dict[str, Any]:
    schema: dict[str, Any] = yaml.safe_load(Path(schema_path).read_text())
    return schema


def check_schema(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise ConfigError listing every schema violation by its dotted key path.

    Snakemake's own validation reports only the first problem, buried under a dump of the
    whole schema; this names each offending key on one line.
    """
    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    problems: list[tuple[str, str]] = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            problems += [(".".join([*path, name]), "unknown key") for name in unknown]
        else:
            # For oneOf, the alternatives' own messages say what would have been accepted.
            alternatives = sorted({sub.message for sub in error.context or []})
            message = " or ".join(alternatives) if alternatives else error.message
            problems.append((".".join(path) or "<top level>", message))
    if problems:
        message = "\n".join(f"config key '{key}': {problem}" for key, problem in problems)
        raise ConfigError(problems[0][0], message, whole_message=True)


def check_config_file(path: str | Path) -> None:
    """Raise ConfigError naming the file, the key and both lines when `path` (YAML or JSON)
    gives a key twice in one mapping."""
    with open(path, encoding="utf-8") as stream:
        yaml.load(stream, Loader=_UniqueKeyLoader)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: YAML itself (and so
    Snakemake's --configfile) silently keeps only the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` repeats keys on purpose
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in first_line:
                raise ConfigError(
                    str(key),
                    f"{key_node.start_mark.name}: key '{key}' is given twice, on lines "
                    f"{first_line[key]} and {line}; only the last would count: merge them",
                    whole_message=True,
                )
            first_line[key] = line
        return super().construct_mapping(node, deep)


def coerce_command_line_strings(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None
) -> Any:
    """A copy of `value` with strings turned into the numbers, booleans and nulls the schema
    asks for.

    Snakemake's `--config 'probes={"threads": 2}'` merges the mapping into the config but reads
    the values inside it with YAML's BaseLoader, so they arrive as strings ("2"); a top-level
    `--config seed=3` arrives typed. Strings where the schema expects a string stay strings.
    """
    root = root or schema
    node = _node(schema, root)
    if isinstance(value, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {
            key: coerce_command_line_strings(
                item, properties.get(key, extra if isinstance(extra, dict) else {}), root
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = node.get("items", {})
        return [coerce_command_line_strings(item, items, root) for item in value]
    if isinstance(value, str):
        return _typed(value, node, root)
    return value


def _typed(text: str, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """`text` as the number, boolean or null the schema asks for; unchanged when none fits."""
    node = _node(schema, root)
    branches = [_node(b, root) for b in node.get("oneOf", node.get("anyOf", [node]))]
    try:
        value = yaml.safe_load(text)
        # YAML 1.1 reads 1e-3 (no decimal point) as text; Python reads it as a number
        value = float(value) if isinstance(value, str) else value
    except (yaml.YAMLError, ValueError):
        return text
    # YAML 1.1 also reads yes/no/on/off as booleans; one written as text (a quoted "no") stays
    # text, for the schema to refuse, rather than silently turning a flag off.
    if isinstance(value, bool) and text.strip().lower() not in ("true", "false"):
        return text
    for branch in branches:
        types = branch.get("type", [])
        allowed = [t for name in ([types] if isinstance(types, str) else types)
                   for t in _JSON_TYPES.get(name, ())]  # fmt: skip
        fits_type = isinstance(value, tuple(allowed)) and not (
            isinstance(value, bool) and bool not in allowed
        )
        fits_enum = value in branch.get("enum", []) and not isinstance(value, str)
        if fits_type or fits_enum:
            return value
    return text


def _node(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema node itself when it is a local reference (#/$defs/<name>)."""
    ref = schema.get("$ref")
    return root["$defs"][ref.rsplit("/", 1)[-1]] if ref else schema


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
