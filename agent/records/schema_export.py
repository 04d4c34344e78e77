"""JSON Schemas of the wire formats: one file per record type, plus telemetry.

The platform validates what it receives against these; ``canteen-agent schema``
writes them out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.records.envelope import Envelope, TelemetryBatch
from agent.records.registry import RECORD_TYPES

SCHEMA_BASE = "https://schemas.canteen-agent.org/v1/"


def record_schema(record_type: str) -> dict[str, Any]:
    data_model = RECORD_TYPES[record_type]
    schema = Envelope[data_model].model_json_schema()  # type: ignore[valid-type]
    schema["properties"]["type"] = {"const": record_type, "title": "Type", "type": "string"}
    schema["$id"] = f"{SCHEMA_BASE}{record_type}.json"
    schema["title"] = record_type
    schema["description"] = (data_model.__doc__ or "").strip().splitlines()[0]
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    schemas = {name: record_schema(name) for name in RECORD_TYPES}
    tele = TelemetryBatch.model_json_schema()
    tele["$id"] = f"{SCHEMA_BASE}telemetry.json"
    schemas["telemetry"] = tele
    return schemas


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
