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

from agent.config_file.model import AgentConfig
from agent.redact import redact_text
from agent.stations.registry import STATION_KINDS

ENV_PREFIX = "CANTEEN__"


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is the full readable message."""


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Load, override from the environment, and validate one config file."""
    path = Path(path)
    data, lines = read_yaml_file(path)
    overridden = apply_env_overrides(data, os.environ if environ is None else environ)
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, lines, overridden, data)) from None


def read_yaml_file(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """The file's top-level mapping and the line of every key, or a ConfigError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} (line {line}): not UTF-8 text (byte {exc.start}); "
                          "save the file as UTF-8") from None
    return _parse_yaml(text, path)


def _parse_yaml(text: str, path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    try:
        node, data = _load_bounded(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}{exc}") from None
    except yaml.MarkedYAMLError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if node is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    lines: dict[tuple[Any, ...], int] = {}
    _record_lines(node, (), lines)
    return data, lines


# A config is a few hundred lines a few levels deep; these bounds are far above any
# real one and keep a hostile or broken file from hanging or crashing the loader.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000  # after alias expansion: a "billion laughs" file stops here


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and bounds nesting and alias expansion.

    Expansion is counted while composing: every node counts one, an alias counts the
    whole (expanded) size of the node it points to, so ten levels of ten aliases each
    stop at ``MAX_NODES`` instead of building 10^10 references for pydantic to walk.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node is None or id(node) not in self._sizes:  # its anchor is still open: it contains itself
                raise ConfigError(f" (line {mark.line + 1}): an alias refers to the value that contains it")
            self._count(self._sizes[id(node)], mark.line)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ConfigError(f" (line {mark.line + 1}): nested deeper than {MAX_DEPTH} levels")
        before = self._expanded
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1, mark.line)
        if node is not None:
            self._sizes[id(node)] = self._expanded - before
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node)
        return node

    def _count(self, size: int, line: int) -> None:
        self._expanded += size
        if self._expanded > MAX_NODES:
            raise ConfigError(f" (line {line + 1}): more than {MAX_NODES} values once "
                              "aliases are expanded (an alias bomb?)")


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """A key given twice in one mapping: YAML would keep the second silently. (Merge keys
    ``<<`` are left to YAML: overriding what they bring is what they are for.)"""
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise ConfigError(f" (line {line}): key {key_node.value!r} appears twice in one mapping "
                              f"(first at line {seen[key_node.value]}); the second would silently win")
        seen[key_node.value] = line


def _load_bounded(text: str) -> tuple[yaml.Node | None, Any]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise ConfigError(": nested too deeply to read") from None
    finally:
        loader.dispose()
    return node, data


def parse_scalar(raw: str) -> Any:
    """One environment value as a YAML scalar (same bounds as the file), else the raw text."""
    try:
        return _load_bounded(raw)[1] if raw != "" else ""
    except (yaml.YAMLError, ConfigError):
        return raw


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
        value = parse_scalar(raw)
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
                            overridden: set[tuple[Any, ...]], data: Any = None) -> str:
    problems = [_describe(err, lines, overridden, data) for err in exc.errors()]
    head = f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return "\n".join([head] + [f"  {redact_text(p)}" for p in problems])


def _describe(err: Any, lines: dict[tuple[Any, ...], int], overridden: set[tuple[Any, ...]], data: Any) -> str:
    loc = _data_path(err["loc"], data)
    where = _dotted(loc)
    line = _nearest_line(loc, lines)
    origin = " (from the environment)" if loc in overridden else (f" (line {line})" if line else "")
    if err["type"] == "extra_forbidden":
        return f"{where}{origin}: unknown key{_other_kinds_key(loc, data) or _suggest(loc)}"
    if err["type"] == "missing":
        return f"{where}{origin}: required value is missing"
    got = err.get("input")
    hidden = isinstance(got, dict | list) or got is None or _is_secret(loc)
    shown = "" if hidden else f", got {got!r}"
    return f"{where}{origin}: {err['msg']}{shown}"


# a value under one of these keys is never repeated in a message (it may be a password)
_SECRET_WORDS = ("password", "secret", "token", "credential")


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return any(isinstance(part, str) and any(word in part.lower() for word in _SECRET_WORDS) for part in loc)


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop pydantic's union-tag segments (``function-...``, ``tuple[...]``, a
    discriminator value such as ``ir_thermometer``) so the path matches the file's keys."""
    out = []
    node = data
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue
        if isinstance(part, str) and isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # the tag of a discriminated union, not a key of the file
        out.append(part)
        node = _child(node, part)
    return tuple(out)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _nearest_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _other_kinds_key(loc: tuple[Any, ...], data: Any) -> str:
    """A station key that belongs to other kinds only: say so, so an older config that carried
    it harmlessly (every station once accepted every kind's settings) is mended in one read."""
    if len(loc) != 3 or loc[0] != "stations" or not isinstance(loc[1], int):
        return ""
    station = _child(_child(data, "stations"), loc[1])
    kind = station.get("kind") if isinstance(station, dict) else None
    owners = [k.name for k in STATION_KINDS if k.name != kind and loc[2] in k.config.model_fields]
    if not owners:
        return ""
    return f" (not a setting of a {kind} station, only of {', '.join(owners)}: remove it)"


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
