"""Stage 2 of the mask classifier: real scenes, and what is not a face at all.

Stage 1 (models/build.py) fine-tunes the stock model on face-mask/train: single, large,
mostly frontal faces, many with masks drawn on. A kitchen camera sees whole scenes, so
stage 2 fine-tunes the whole network again, at a low rate for the features, on:

* face-mask/train (classes with_mask / without_mask), as stage 1 cut them;
* face-mask-scenes/train cut exactly as the device cuts them: the runtime's own
  ``find_faces`` at the config defaults, each detection matched to an annotated face
  (IoU >= 0.4), both at least 24 px, the crop around the *detected* box, labelled from
  the annotation (with_mask / without_mask / mask_weared_incorrect);
* ``not_face``: what the detector finds in those train photos at a lower score (>= 0.3)
  where no face is annotated near (hands, jackets, decorations, backs of heads, and the
  blurred background faces the data set leaves unboxed: 25 of the 67, by a person's audit
  in ``models/audits/face-mask-scenes-train-mined.csv``). ``build.py --mined-audit FILE``
  keeps only those the audit calls not a face (31 of 67); the shipped model is built
  without it (see models/README.md for both builds' figures). At run time ``find_faces`` drops
  a detection this class claims (``vision.verify_faces``): the classifier runs on every
  kept face anyway, so the check costs nothing extra.

Each epoch draws a fixed number of augmented crops with a fixed share per (source, class)
cell, so that the few scene crops and the 40-odd masks worn under the nose are not drowned
by face-mask/train. The epoch and both operating points are chosen on val only
(face-mask/val held at >= 99 %); the points are folded into the model as logit shifts, so
the runtime's thresholds of 0.5 are the points chosen here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from agent.vision.faces import FaceDetector
from models.mask_data import Sample, augmented_crop, balanced_accuracy, mask_tensor, runtime_crop

log = logging.getLogger("models.build")

SCENE_LABELS = ("with_mask", "without_mask", "mask_weared_incorrect", "not_face")
VIOLATION_LABELS = ("without_mask", "mask_weared_incorrect")
NOT_FACE = SCENE_LABELS.index("not_face")
SCENE_CROP_MIN_PX = 24  # annotated and detected short side of the scene crops trained on
MINE_SCORE = 0.3  # detector score from which unannotated detections become not_face crops
EPOCHS = 6
EPOCH_SIZE = 3000  # augmented crops drawn per epoch
# share of each epoch per (source, class): scene crops are few but are what cameras see
CELL_SHARE = {("face", 0): 0.15, ("face", 1): 0.15, ("scene", 0): 0.2, ("scene", 1): 0.2,
              ("scene", 2): 0.1, ("scene", NOT_FACE): 0.2}
FEATURE_LR, HEAD_LR = 3e-5, 3e-4
MAX_FALSE_REJECT = 0.01  # faces of val the not-face point may drop, at most
SEED = 20240607


@dataclass
class SceneCrops:
    faces: list[Sample]  # labels 0-2
    not_faces: list[Sample]  # label NOT_FACE
    mined_audit: str | None = None  # the audit file that filtered not_faces, if any


@dataclass
class StageResult:
    model: nn.Module
    violation_threshold: float  # on P(violation | face), chosen on val
    not_face_threshold: float  # on P(not_face), chosen on val
    record: dict


class SceneMaskModel(nn.Module):
    """The stage-1 network with a 4-class output; ``shift`` holds the chosen operating points."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.bottom = base.bottom
        self.reduce = base.reduce
        self.expand = base.expand
        self.out = nn.Linear(base.out.in_features, len(SCENE_LABELS))
        with torch.no_grad():  # start from the two-class head; worn incorrectly starts as "without"
            self.out.weight.zero_()
            self.out.weight[:2] = base.out.weight
            self.out.bias[:2] = base.out.bias
            self.out.weight[2] = base.out.weight[1]
            self.out.bias[2] = base.out.bias[1] - 2.0
            self.out.bias[NOT_FACE] = -2.0
        self.register_buffer("shift", torch.zeros(len(SCENE_LABELS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.expand(self.reduce(self.bottom(x).flatten(1))))
        return self.out(hidden) + self.shift


# --------------------------------------------------------------------------- data

def scene_crops(scenes: Path, split: str, detector: FaceDetector,
                mined_audit: Path | None = None) -> SceneCrops:
    """Faces as the device cuts them, and the not-a-face crops of the same photos (only
    those ``mined_audit`` calls not a face, when given)."""
    from agent.config import VisionConfig
    from agent.vision.eval.review import read_audit
    from agent.vision.eval.scenes import load_scenes, match, near_an_annotation
    from agent.vision.scene import VisionModels, find_faces

    audit = read_audit(mined_audit, kind="mined") if mined_audit is not None else None
    vision = VisionConfig()
    mining = vision.model_copy(update={"face_score_min": MINE_SCORE})
    runtime = FaceDetector(detector.model, score_threshold=MINE_SCORE,
                           upscale=vision.detect_upscale, max_side=vision.detect_max_side)
    models = VisionModels(runtime, None, None)  # detection only: nothing verified yet
    faces, not_faces = [], []
    for scene in load_scenes(scenes / split):
        image = cv2.imread(str(scene.image_path))
        found = find_faces(models, mining, image)
        kept = [j for j, f in enumerate(found) if f.score >= vision.face_score_min]
        matches = match(scene.faces, [found[j] for j in kept])
        for i, k in matches.items():
            face = found[kept[k]]
            if scene.faces[i].short_side >= SCENE_CROP_MIN_PX and \
                    min(face.width, face.height) >= SCENE_CROP_MIN_PX:
                faces.append(Sample(image, face.box, SCENE_LABELS.index(scene.faces[i].label),
                                    scene.image_path.stem))
        for face in found:
            if not near_an_annotation(face.box, scene.faces) and \
                    (audit is None or audited_not_face(audit, scene.image_path.name, face)):
                not_faces.append(Sample(image, face.box, NOT_FACE, scene.image_path.stem))
    counts = np.bincount([s.label for s in faces], minlength=3).tolist()
    log.info("build.scenes split=%s face_crops=%d per_class=%s not_face=%d", split, len(faces),
             counts, len(not_faces))
    return SceneCrops(faces, not_faces, mined_audit.name if mined_audit is not None else None)


def audited_not_face(audit: list, photo: str, face) -> bool:
    """A mined crop is trained on as not a face only where the audit says so (an unsure
    one, or one the audit does not list, is left out)."""
    from agent.vision.eval.review import verdict_of
    from agent.vision.eval.scenes import Finding

    return verdict_of(Finding(photo, face.box, "mined"), audit) == "not_face"


def draw_epoch(cells: dict[tuple[str, int], list[Sample]], rng: np.random.Generator) -> list[Sample]:
    """EPOCH_SIZE samples, each cell its share (with repeats when it is small), shuffled."""
    drawn: list[Sample] = []
    for cell, share in CELL_SHARE.items():
        pool = cells[cell]
        n = round(share * EPOCH_SIZE)
        drawn += [pool[i] for i in rng.choice(len(pool), n, replace=len(pool) < n)]
    return [drawn[i] for i in rng.permutation(len(drawn))]


# --------------------------------------------------------------------------- measures

def probabilities(model: nn.Module, samples: list[Sample]) -> np.ndarray:
    """Softmax over SCENE_LABELS of the runtime crop of each sample (no augmentation)."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([torch.softmax(model(mask_tensor(
            [runtime_crop(s) for s in samples[i:i + 64]])), 1).numpy()
            for i in range(0, len(samples), 64)]) if samples else np.zeros((0, len(SCENE_LABELS)))


def p_violation(probs: np.ndarray) -> np.ndarray:
    """P(violation | a face): what the runtime computes from the manifest's class lists."""
    face = probs[:, :NOT_FACE].sum(axis=1)
    return (probs[:, 1] + probs[:, 2]) / np.maximum(face, 1e-12)


def violation_ba(labels: np.ndarray, p: np.ndarray, threshold: float) -> float:
    return balanced_accuracy((labels > 0).astype(int), (p > threshold).astype(int))


@dataclass
class ValSet:
    face_labels: np.ndarray  # face-mask/val, 0/1
    scene_labels: np.ndarray  # scene val faces, 0-2
    face_samples: list[Sample]
    scene_samples: list[Sample]
    not_face_samples: list[Sample]

    def measure(self, model: nn.Module, violation_t: float = 0.5,
                not_face_t: float = 0.5) -> dict[str, float]:
        pf, ps, pn = (probabilities(model, s) for s in
                      (self.face_samples, self.scene_samples, self.not_face_samples))
        faces_nf = np.concatenate([pf[:, NOT_FACE], ps[:, NOT_FACE]])
        incorrect = self.scene_labels == 2
        return {"face_mask_ba": violation_ba(self.face_labels, p_violation(pf), violation_t),
                "scene_ba": violation_ba(self.scene_labels, p_violation(ps), violation_t),
                "incorrect_called": float(np.mean(p_violation(ps)[incorrect] > violation_t))
                if incorrect.any() else 0.0,
                "not_face_rejected": float(np.mean(pn[:, NOT_FACE] > not_face_t)) if len(pn) else 0.0,
                "faces_rejected": float(np.mean(faces_nf > not_face_t))}


# --------------------------------------------------------------------------- training

def freeze_batchnorm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def train_epoch(model: nn.Module, samples: list[Sample], optimizer: torch.optim.Optimizer,
                rng: np.random.Generator, batch_size: int = 32) -> float:
    model.train()
    freeze_batchnorm(model)  # small data: keep the stock statistics
    total = 0.0
    for i in range(0, len(samples), batch_size):
        batch = samples[i:i + batch_size]
        x = mask_tensor([augmented_crop(s, rng) for s in batch])
        y = torch.tensor([s.label for s in batch])
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(samples)


def epoch_score(m: dict[str, float]) -> float:
    """Scene violation call first, face-mask/val held at 99 %, not-faces dropped while faces are kept."""
    return (m["scene_ba"] + min(m["face_mask_ba"], 0.99)
            + 0.25 * (m["not_face_rejected"] - 10 * max(0.0, m["faces_rejected"] - MAX_FALSE_REJECT)))


def train_scene_stage(base: nn.Module, face_train: list[Sample], face_val: list[Sample],
                      scenes: Path, detector: FaceDetector, epochs: int = EPOCHS,
                      mined_audit: Path | None = None) -> StageResult:
    train = scene_crops(scenes, "train", detector, mined_audit)
    val_crops = scene_crops(scenes, "val", detector)
    cells: dict[tuple[str, int], list[Sample]] = {
        ("face", 0): [s for s in face_train if s.label == 0],
        ("face", 1): [s for s in face_train if s.label == 1],
        ("scene", NOT_FACE): train.not_faces}
    for label in range(3):
        cells[("scene", label)] = [s for s in train.faces if s.label == label]
    val = ValSet(np.array([s.label for s in face_val]), np.array([s.label for s in val_crops.faces]),
                 face_val, val_crops.faces, val_crops.not_faces)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    model = SceneMaskModel(base)
    head = [*model.reduce.parameters(), *model.expand.parameters(), *model.out.parameters()]
    optimizer = torch.optim.AdamW([{"params": model.bottom.parameters(), "lr": FEATURE_LR},
                                   {"params": head, "lr": HEAD_LR}], weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    best, best_state, history = -1e9, None, []
    for epoch in range(epochs):
        start = time.monotonic()
        loss = train_epoch(model, draw_epoch(cells, rng), optimizer, rng)
        scheduler.step()
        measured = val.measure(model)
        history.append({"epoch": epoch + 1, "train_loss": round(loss, 4),
                        **{k: round(v, 4) for k, v in measured.items()}})
        log.info("build.scene_stage epoch=%d loss=%.4f %s secs=%.0f", epoch + 1, loss,
                 " ".join(f"{k}={v:.4f}" for k, v in measured.items()), time.monotonic() - start)
        if epoch_score(measured) > best:
            best = epoch_score(measured)
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    return fold_operating_points(model, val, train, val_crops, history, len(face_train))


# --------------------------------------------------------------------------- operating points

def choose_violation_threshold(val: ValSet, probs_face: np.ndarray, probs_scene: np.ndarray) -> float:
    """Best scene balanced accuracy on val while face-mask/val holds >= 99 %."""
    pf, ps = p_violation(probs_face), p_violation(probs_scene)
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    scored = [(violation_ba(val.face_labels, pf, t) >= 0.99, violation_ba(val.scene_labels, ps, t)
               + 0.5 * violation_ba(val.face_labels, pf, t), -abs(t - 0.5), t) for t in grid]
    return float(max(scored)[3])


def choose_not_face_threshold(probs_face: np.ndarray, probs_scene: np.ndarray) -> float:
    """The lowest P(not_face) point that drops at most MAX_FALSE_REJECT of val's faces, of
    face-mask/val and of the scene faces each (the scene faces are the fewer, and the harder)."""
    grid = np.round(np.arange(0.05, 0.991, 0.01), 2)
    for t in grid:
        if max(np.mean(probs_face[:, NOT_FACE] > t), np.mean(probs_scene[:, NOT_FACE] > t)) <= MAX_FALSE_REJECT:
            return float(t)
    return float(grid[-1])


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def fold_operating_points(model: SceneMaskModel, val: ValSet, train: SceneCrops,
                          val_crops: SceneCrops, history: list[dict],
                          face_train_images: int) -> StageResult:
    """Shift the logits so that the runtime's 0.5 points are the ones chosen on val:
    P(violation | face) > t  <=>  with the with_mask logit raised by logit(t), > 0.5;
    P(not_face) > u          <=>  with the not_face logit lowered by logit(u), > 0.5."""
    pf, ps, pn = (probabilities(model, s) for s in
                  (val.face_samples, val.scene_samples, val.not_face_samples))
    violation_t = choose_violation_threshold(val, pf, ps)
    not_face_t = choose_not_face_threshold(pf, ps)
    with torch.no_grad():
        model.shift[0] = logit(violation_t)
        model.shift[NOT_FACE] = -logit(not_face_t)
    measured = val.measure(model)
    record = {"data": {"face_mask_train_images": face_train_images,
                       "scene_train_face_crops": len(train.faces),
                       "scene_train_per_class": np.bincount([s.label for s in train.faces],
                                                            minlength=3).tolist(),
                       "scene_train_not_face_crops": len(train.not_faces),
                       "scene_val_face_crops": len(val_crops.faces),
                       "scene_val_not_face_crops": len(val_crops.not_faces),
                       "epoch_size": EPOCH_SIZE, "cell_share": {f"{s}/{c}": v for (s, c), v
                                                                in CELL_SHARE.items()},
                       "mine_score": MINE_SCORE,
                       "mined_audit": train.mined_audit},
              "epochs": len(history), "history": history,
              "chosen_epoch": int(np.argmax([epoch_score(h) for h in history]) + 1),
              "violation_threshold_chosen_on_val": violation_t,
              "not_face_threshold_chosen_on_val": not_face_t,
              "val_after_shift": {k: round(v, 4) for k, v in measured.items()}}
    log.info("build.scene_stage chosen violation_t=%.2f not_face_t=%.2f val=%s", violation_t,
             not_face_t, record["val_after_shift"])
    return StageResult(model, violation_t, not_face_t, record)

