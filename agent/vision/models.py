"""The model manifest (models/manifest.json) and integrity-checked onnxruntime sessions.

Every ONNX file is verified against the sha256 recorded in the manifest before a session
is created, so a corrupted or swapped file is refused rather than silently used.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MODELS_DIR_ENV = "CANTEEN_MODELS_DIR"
# The repository's models/ folder: agent/vision/models.py -> parents[2] is the repo root.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
# Two cores on the target box: one session per model uses both unless told otherwise.
DEFAULT_THREADS = 2


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its sha256 differs from the manifest."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    package: str
    version: str
    file: str
    licence: str
    notice: str


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    width: int | None = Field(description="fixed width, or None when any width is accepted")
    height: int | None
    layout: Literal["NCHW"] = "NCHW"
    dtype: Literal["float32"] = "float32"


class Normalisation(BaseModel):
    """x = (pixel * scale - mean) / std, per channel in ``channel_order``."""

    model_config = ConfigDict(extra="forbid")
    channel_order: Literal["RGB", "BGR"]
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    sha256: str
    size_bytes: int
    opset: int
    source: Source
    input: InputSpec
    normalisation: Normalisation
    outputs: dict[str, str]
    class_map: dict[int, str] | None = None
    preprocessing: dict[str, object] = Field(default_factory=dict)
    postprocessing: dict[str, object] = Field(default_factory=dict)
    quality: dict[str, object] = Field(default_factory=dict)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1]
    built_by: str
    models: dict[str, ModelEntry]


@dataclass(frozen=True)
class LoadedModel:
    """A verified model: its manifest entry and a ready onnxruntime session."""

    name: str
    entry: ModelEntry
    session: ort.InferenceSession

    @property
    def input_name(self) -> str:
        return self.entry.input.name


def resolve_models_dir(models_dir: Path | str | None = None) -> Path:
    if models_dir is not None:
        return Path(models_dir)
    return Path(os.environ.get(MODELS_DIR_ENV, DEFAULT_MODELS_DIR))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(models_dir: Path | str | None = None) -> Manifest:
    path = resolve_models_dir(models_dir) / MANIFEST_NAME
    manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    log.debug("vision.manifest.loaded path=%s models=%s", path, sorted(manifest.models))
    return manifest


def verified_model_path(models_dir: Path | str | None, entry: ModelEntry) -> Path:
    """Return the model file's path after checking its sha256; raise ModelIntegrityError."""
    path = resolve_models_dir(models_dir) / entry.file
    if not path.is_file():
        raise ModelIntegrityError(f"model file missing: {path}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        log.error("vision.model.sha256_mismatch file=%s expected=%s actual=%s",
                  path, entry.sha256, actual)
        raise ModelIntegrityError(
            f"sha256 mismatch for {path}: manifest says {entry.sha256}, file is {actual}; "
            "refusing to load (rebuild with models/build.py or restore the file)"
        )
    return path


def create_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or DEFAULT_THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_model(name: str, models_dir: Path | str | None = None,
               threads: int | None = None) -> LoadedModel:
    """Load one model named in the manifest, verifying its file first."""
    manifest = load_manifest(models_dir)
    if name not in manifest.models:
        raise KeyError(f"model {name!r} not in manifest (have {sorted(manifest.models)})")
    entry = manifest.models[name]
    path = verified_model_path(models_dir, entry)
    session = create_session(path, threads)
    log.info("vision.model.loaded name=%s file=%s threads=%s", name, path,
             threads or DEFAULT_THREADS)
    return LoadedModel(name=name, entry=entry, session=session)
