"""General image features from models/backbone_features.onnx (ImageNet MobileNetV2).

Used by per-site heads (hat enrolment): a crop becomes a 1280-d global-average-pooled vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.vision import crops
from agent.vision.models import LoadedModel, load_model

MODEL_NAME = "backbone_features"


class BackboneFeatures:
    def __init__(self, model: LoadedModel, batch_size: int = 8) -> None:
        self.model = model
        self.batch_size = batch_size
        self.size = (model.entry.input.width or 224, model.entry.input.height or 224)

    @classmethod
    def from_manifest(cls, models_dir: Path | str | None = None,
                      threads: int | None = None) -> BackboneFeatures:
        return cls(load_model(MODEL_NAME, models_dir, threads))

    @property
    def sha256(self) -> str:
        return self.model.entry.sha256

    def embed(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """BGR crops -> (N, 1280) float32 features."""
        norm = self.model.entry.normalisation
        out = [np.zeros((0, 1280), np.float32)]
        for start in range(0, len(crops_bgr), self.batch_size):
            batch = crops.to_tensor(crops_bgr[start:start + self.batch_size], self.size,
                                    norm.channel_order, norm.scale, norm.mean, norm.std)
            out.append(self.model.session.run(None, {self.model.input_name: batch})[0])
        return np.concatenate(out).astype(np.float32)
