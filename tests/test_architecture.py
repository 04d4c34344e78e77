"""docs/ARCHITECTURE.md's room table and pyproject.toml's import contracts say the same thing.

Every rule of the page is one import-linter contract and every contract is a rule of the
page; a room's row is exactly its contract (what it may import, hence what it may not);
the page's layer diagram is the layers contract; no contract carries an exceptions list.
When they drift apart the failure prints the contract the page asks for.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
CONTRACTS: list[dict[str, Any]] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"]
SETTINGS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    rooms: tuple[str, ...]
    may: str
    never: str
    contract: str


def dotted(path: str) -> str:
    return path.rstrip("/").removesuffix(".py").replace("/", ".")


def table_rows() -> list[Row]:
    section = DOC.split("## The rooms and what each may touch", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert len(cells) == 5, f"a room row has five cells: {line}"
            rooms, _what, may, never, contract = cells
            rows.append(Row(tuple(TICKED.findall(rooms)), may, never, TICKED.findall(contract)[0]))
        elif rows and not line.strip():
            break
    return rows


def house_rules() -> dict[str, str]:
    """Rule title -> contract name, from the bullets after the table."""
    return dict(re.findall(r"- \*\*([^*]+)\*\* \(contract `([^`]+)`\)", DOC))


def doc_layers() -> list[str]:
    block = DOC.split("- **Layers**", 1)[1].split("```", 2)[1]
    return [" | ".join(dotted(p).removeprefix("agent.") for p in line.strip().split(" | "))
            for line in block.strip().splitlines()]


def contract(name: str) -> dict[str, Any]:
    found = [c for c in CONTRACTS if c["name"] == name]
    assert len(found) == 1, f"{len(found)} contracts named {name!r} in pyproject.toml"
    return found[0]


def rooms_on_disk() -> set[str]:
    agent = REPO / "agent"
    return {f"agent/{p.name}" for p in agent.glob("*.py") if p.stem != "__init__"} | {
        f"agent/{p.name}/" for p in agent.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def layer_index() -> dict[str, int]:
    return {f"agent.{m}": i for i, line in enumerate(doc_layers()) for m in line.split(" | ")}


def agent_rows() -> list[Row]:
    return [r for r in table_rows() if r.rooms[0].startswith("agent/")]


def allowed(row: Row) -> set[str]:
    if row.may.startswith("every room below it"):
        level = max(layer_index()[dotted(r)] for r in row.rooms)
        return {m for m, i in layer_index().items() if i > level}
    return {dotted(p) for p in TICKED.findall(row.may) if p.startswith("agent/")}


def expected_forbidden(row: Row) -> set[str]:
    never = {n for n in TICKED.findall(row.never)}
    return set(layer_index()) - allowed(row) - {dotted(r) for r in row.rooms} | never


def toml_of(name: str, sources: list[str], forbidden: list[str], indirect: bool = True) -> str:
    def items(xs: list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"
    return ("[[tool.importlinter.contracts]]\n"
            f'name = "{name}"\ntype = "forbidden"\nsource_modules = {items(sources)}\n'
            f"forbidden_modules = {items(forbidden)}\n" + ("allow_indirect_imports = true\n" if indirect else ""))


def test_every_rule_is_one_contract_and_every_contract_a_rule() -> None:
    named = [r.contract for r in table_rows()] + list(house_rules().values())
    assert len(named) == len(set(named)), "two rules of the page name one contract"
    assert sorted(named) == sorted(c["name"] for c in CONTRACTS)
    assert set(house_rules()) == {"Layers", "No cycles", "Drivers' own modules", "Vision's evaluation apart"}


def test_no_contract_has_an_exceptions_list() -> None:
    assert [c["name"] for c in CONTRACTS if c.get("ignore_imports")] == []


def test_every_room_in_agent_has_its_row_and_its_layer() -> None:
    in_table = {r for row in agent_rows() for r in row.rooms}
    assert in_table == rooms_on_disk(), "a room of agent/ without a row in docs/ARCHITECTURE.md (or a row without it)"
    assert set(layer_index()) == {dotted(r) for r in in_table}, "every room on exactly one line of the layers"


def test_the_layer_diagram_is_the_layers_contract() -> None:
    layers = contract(house_rules()["Layers"])
    assert layers["type"] == "layers" and layers["containers"] == ["agent"] and layers["exhaustive"] is True
    assert layers["layers"] == doc_layers()


@pytest.mark.parametrize("row", agent_rows(), ids=lambda r: r.rooms[0])
def test_a_rooms_row_is_its_contract(row: Row) -> None:
    found = contract(row.contract)
    sources = [dotted(r) for r in row.rooms]
    want = sorted(expected_forbidden(row))
    assert (found["type"], sorted(found["source_modules"]), sorted(found["forbidden_modules"]),
            str(found.get("allow_indirect_imports")).lower()) == ("forbidden", sorted(sources), want, "true"), (
        "pyproject.toml should say, as docs/ARCHITECTURE.md does:\n" + toml_of(row.contract, sources, want))


def test_only_the_rooms_that_name_drivers_import_a_drivers_own_module() -> None:
    rule = DOC.split("- **Drivers' own modules**", 1)[1].split("\n- ", 1)[0]
    vocabulary = {dotted(p) for p in TICKED.findall(rule) if p.startswith("drivers/")}
    devices = sorted(m for m in (f"drivers.{p.stem}" for p in (REPO / "drivers").glob("*.py")
                                 if p.stem != "__init__") if m not in vocabulary)
    devices += sorted(f"drivers.{p.name}" for p in (REPO / "drivers").iterdir()
                      if p.is_dir() and (p / "__init__.py").exists())
    sources = sorted(dotted(r) for row in agent_rows() if "`drivers/`" not in row.may for r in row.rooms)
    found = contract(house_rules()["Drivers' own modules"])
    assert (sorted(found["source_modules"]), sorted(found["forbidden_modules"])) == (sources, sorted(devices)), (
        "pyproject.toml should say:\n" + toml_of(found["name"], sources, sorted(devices)))


def test_the_top_level_rows_are_their_contracts() -> None:
    rows = {r.rooms[0]: r for r in table_rows() if not r.rooms[0].startswith("agent/")}
    drivers = contract(rows["drivers/"].contract)
    assert drivers["source_modules"] == ["drivers"]
    assert sorted(drivers["forbidden_modules"]) == sorted(dotted(p) for p in TICKED.findall(rows["drivers/"].never))
    above = contract(rows["bench/"].contract)
    assert above["type"] == "layers"
    assert {m for line in above["layers"] for m in line.split(" | ")} == (
        {dotted(r) for r in rows["bench/"].rooms} | {"agent", "drivers"})
    assert set(SETTINGS["root_packages"]) == {"agent", "drivers", "simulator", "bench", "models"}


def test_no_cycles_anywhere_in_the_house() -> None:
    cycles = contract(house_rules()["No cycles"])
    assert cycles["type"] == "acyclic_siblings"
    assert sorted(cycles["ancestors"]) == sorted(SETTINGS["root_packages"])


def test_the_camera_runtime_is_every_vision_module_but_the_evaluation() -> None:
    found = contract(house_rules()["Vision's evaluation apart"])
    vision = REPO / "agent" / "vision"
    runtime = sorted(f"agent.vision.{p.stem}" for p in vision.glob("*.py") if p.stem != "__init__")
    assert found["forbidden_modules"] == ["agent.vision.eval"]
    assert sorted(found["source_modules"]) == sorted([*runtime, "agent.app"]), (
        "pyproject.toml should list every runtime module of agent/vision/")
