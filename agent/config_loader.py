"""Read a config file, apply environment overrides, validate, and explain errors.

An error message names the file, the key path and the line, for example::

    config/site.yaml: 2 problems
      broker.prot (line 7): unknown key (did you mean 'port'?)
      rules.food_sample.min_grams (line 31): Input should be a valid number, got 'lots'
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from agent.config import AgentConfig

ENV_PREFIX = "CANTEEN__"


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is the full readable message."""


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Load, override from the environment, and validate one config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    data, lines = _parse_yaml(text, path)
    overridden = apply_env_overrides(data, os.environ if environ is None else environ)
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, lines, overridden)) from None


def _parse_yaml(text: str, path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if node is None:
        raise ConfigError(f"{path}: the file is empty")
    lines: dict[tuple[Any, ...], int] = {}
    _record_lines(node, (), lines)
    data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data, lines


def _record_lines(node: yaml.Node, key_path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """Remember the 1-based line of every key and list item."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = key_path + (key_node.value,)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = key_path + (index,)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines)


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> set[tuple[Any, ...]]:
    """Apply ``CANTEEN__A__B=value`` overrides in place; return the paths overridden."""
    done: set[tuple[Any, ...]] = set()
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX):].split("__") if part]
        if not keys:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        path = tuple(int(k) if k.isdigit() else k for k in keys)
        _set_path(data, path, value, name)
        done.add(path)
    return done


def _set_path(data: Any, path: tuple[Any, ...], value: Any, env_name: str) -> None:
    target = data
    for position, key in enumerate(path[:-1]):
        nxt = path[position + 1]
        if isinstance(key, int):
            if not isinstance(target, list) or key >= len(target):
                raise ConfigError(f"{env_name}: no list item {key} at {_dotted(path[:position + 1])}")
            target = target[key]
            continue
        if not isinstance(target, dict):
            raise ConfigError(f"{env_name}: {_dotted(path[:position])} is not a section")
        if key not in target or target[key] is None:
            target[key] = [] if isinstance(nxt, int) else {}
        target = target[key]
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            raise ConfigError(f"{env_name}: no list item {last} at {_dotted(path)}")
        target[last] = value
    elif isinstance(target, dict):
        target[last] = value
    else:
        raise ConfigError(f"{env_name}: {_dotted(path[:-1])} is not a section")


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def format_validation_error(exc: ValidationError, path: Path, lines: dict[tuple[Any, ...], int],
                            overridden: set[tuple[Any, ...]]) -> str:
    problems = [_describe(err, lines, overridden) for err in exc.errors()]
    head = f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return "\n".join([head] + [f"  {p}" for p in problems])


def _describe(err: Any, lines: dict[tuple[Any, ...], int], overridden: set[tuple[Any, ...]]) -> str:
    loc = _data_path(err["loc"])
    where = _dotted(loc)
    line = _nearest_line(loc, lines)
    origin = " (from the environment)" if loc in overridden else (f" (line {line})" if line else "")
    if err["type"] == "extra_forbidden":
        return f"{where}{origin}: unknown key{_suggest(loc)}"
    if err["type"] == "missing":
        return f"{where}{origin}: required value is missing"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f", got {got!r}"
    return f"{where}{origin}: {err['msg']}{shown}"


def _data_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-tag segments so the path matches the file's keys."""
    out = []
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue
        out.append(part)
    return tuple(out)


def _nearest_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _suggest(loc: tuple[Any, ...]) -> str:
    known = _known_keys(loc[:-1])
    if not known or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_keys(parent: tuple[Any, ...]) -> list[str]:
    """Field names of the model at ``parent`` (best effort, follows nested models)."""
    model: Any = AgentConfig
    for part in parent:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
