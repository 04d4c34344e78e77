"""Validation of what agents send, against the JSON Schemas the agent exports.

The platform does not import the agent's pydantic models to check payloads: it uses
``agent.records.schema_export.all_schemas()``, the same documents a third-party platform
would load, with a Draft 2020-12 validator. A failing item gets a short reason (the
most relevant schema error and where it is).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from agent.records.schema_export import all_schemas


class SchemaValidator:
    def __init__(self, schemas: dict[str, dict[str, Any]] | None = None, *, full: bool = True) -> None:
        """full=False checks only that an item has an id (load benchmarks, where a full
        Draft 2020-12 validation, ~0.5 ms per record, would measure the platform instead
        of the agent)."""
        self.full = full
        schemas = schemas if schemas is not None else all_schemas()
        for schema in schemas.values():
            Draft202012Validator.check_schema(schema)
        self.validators = {name: Draft202012Validator(schema) for name, schema in schemas.items()}

    @property
    def record_types(self) -> set[str]:
        return set(self.validators) - {"telemetry", "alarm"}

    def problem(self, kind: str, document: Any) -> str | None:
        """None if ``document`` is a valid ``kind`` (a record type, "alarm", "telemetry")."""
        validator = self.validators.get(kind)
        if validator is None:
            return f"no schema for {kind!r}"
        if not self.full:
            return None if isinstance(document, dict) and isinstance(document.get("id"), str) else "no id"
        error = best_match(validator.iter_errors(document))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        return f"schema: {where}: {message}"
