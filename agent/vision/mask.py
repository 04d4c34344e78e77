"""Mask classifier (models/mask_classifier.onnx): face crop -> probability of a mask violation.

The violation is the sum of the classes the manifest lists as ``violation_classes`` (no
mask, and a mask worn under the nose); a two-class model without that list reports
P(without_mask). A model with a ``not_face_class`` also says how likely the crop is not a
face at all (what the detector took for one); the violation is then read among the face
classes only, P(violation) / (1 - P(not_face)), so that the two questions stay apart.

Crops are presented as in training (see the manifest's ``preprocessing``): a square around
the RetinaFace box, side max(w, h) * (1 + margin), clipped to the image, resized to 128.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.vision import crops
from agent.vision.crops import Box
from agent.vision.models import LoadedModel, load_model

log = logging.getLogger(__name__)

MODEL_NAME = "mask_classifier"
NO_MASK_CLASS = "without_mask"


class MaskClassifier:
    def __init__(self, model: LoadedModel, batch_size: int = 16) -> None:
        self.model = model
        self.batch_size = batch_size
        entry = model.entry
        margin = entry.preprocessing.get("margin", 0.2)
        self.margin = float(margin) if isinstance(margin, int | float | str) else 0.2
        self.size = (entry.input.width or 128, entry.input.height or 128)
        classes = {name: index for index, name in (entry.class_map or {}).items()}
        listed = entry.postprocessing.get("violation_classes")
        violating = listed if isinstance(listed, list) else [NO_MASK_CLASS]
        self.violation_indices = [classes[str(name)] for name in violating]
        not_face = entry.postprocessing.get("not_face_class")
        self.not_face_index = classes[str(not_face)] if isinstance(not_face, str) else None

    @classmethod
    def from_manifest(cls, models_dir: Path | str | None = None,
                      threads: int | None = None) -> MaskClassifier:
        return cls(load_model(MODEL_NAME, models_dir, threads))

    def face_crop(self, image_bgr: np.ndarray, box: Box) -> np.ndarray:
        """The crop this classifier expects for a RetinaFace box."""
        return crops.crop(image_bgr, crops.square_box(box, self.margin))

    def classify_crops(self, crops_bgr: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """For each BGR crop: P(mask violation | a face), and P(not a face) (0 when the
        model has no such class); two arrays of shape (len(crops),)."""
        if len(crops_bgr) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
        norm = self.model.entry.normalisation
        violation, not_face = [], []
        for start in range(0, len(crops_bgr), self.batch_size):
            batch = crops.to_tensor(crops_bgr[start:start + self.batch_size], self.size,
                                    norm.channel_order, norm.scale, norm.mean, norm.std)
            probs = self.model.session.run(None, {self.model.input_name: batch})[0]
            p_violation = probs[:, self.violation_indices].sum(axis=1)
            if self.not_face_index is None:
                p_not = np.zeros(len(probs), dtype=np.float32)
            else:
                p_not = probs[:, self.not_face_index]
                p_violation = p_violation / np.maximum(1.0 - p_not, 1e-6)
            violation.append(p_violation)
            not_face.append(p_not)
        return (np.concatenate(violation).astype(np.float32),
                np.concatenate(not_face).astype(np.float32))

    def predict_crops(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """Probability of a mask violation for each BGR crop, shape (len(crops),)."""
        return self.classify_crops(crops_bgr)[0]

    def classify_boxes(self, image_bgr: np.ndarray, boxes: Sequence[Box]) -> tuple[np.ndarray, np.ndarray]:
        """``classify_crops`` of each face box in one image."""
        return self.classify_crops([self.face_crop(image_bgr, box) for box in boxes])

    def predict_boxes(self, image_bgr: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probability of no mask for each face box in one image."""
        return self.predict_crops([self.face_crop(image_bgr, box) for box in boxes])

    def predict(self, image_bgr: np.ndarray, box: Box | None = None) -> float:
        """One face: a box in the image, or the image itself taken as the face crop."""
        crop = image_bgr if box is None else self.face_crop(image_bgr, box)
        return float(self.predict_crops([crop])[0])
