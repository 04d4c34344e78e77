"""Stage 2 of the mask classifier: real scenes, and what is not a face at all.

Stage 1 (models/build.py) fine-tunes the stock model on face-mask/train: single, large,
mostly frontal faces, many with masks drawn on. A kitchen camera sees whole scenes, so
stage 2 fine-tunes the whole network again (features at a tenth of the head's rate,
BatchNorm statistics kept), with a 4-class output, on (``models/scene_data.py``):

* face-mask/train (with_mask / without_mask), as stage 1 cut them;
* face-mask-scenes crops cut exactly as the device cuts them, labelled from the annotation
  (with_mask / without_mask / mask_weared_incorrect);
* ``not_face``: what the detector finds in those photos (score >= 0.3) where no face is
  annotated (``build.py --mined-audit FILE`` keeps only those a person calls not a face);
* in the ``synth`` recipes, masks worn under the nose or on the chin synthesised from faces
  with and without a mask (``models/synth.py``).

Each epoch draws ``EPOCH_SIZE`` augmented crops with a fixed share per (source, class) cell
(the recipe), so that the few scene crops and the ~30 masks worn incorrectly are not drowned
by face-mask/train. Which epoch, and the operating points, are chosen by cross-validation
(``models/cv.py``); the points are folded into the model as logit shifts, so the runtime's
thresholds of 0.5 are the chosen ones.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.mask_data import Sample, augmented_crop, mask_tensor, runtime_crop

log = logging.getLogger("models.build")

SCENE_LABELS = ("with_mask", "without_mask", "mask_weared_incorrect", "not_face")
VIOLATION_LABELS = ("without_mask", "mask_weared_incorrect")
NOT_FACE = SCENE_LABELS.index("not_face")
INCORRECT = SCENE_LABELS.index("mask_weared_incorrect")
SYNTH_LONG_EPOCHS = 3  # what 5 folds + the final training fit in on a shared 2-core machine
SYNTH_SCHED_EPOCHS = 5  # synth_long's curve was still improving at its third (last) epoch
EPOCHS = 2  # the default schedule's length; cross-validation picks the epoch to stop at
EPOCH_SIZE = 1500  # augmented crops drawn per epoch: 2 epochs see what the 6-epoch build chose (3000)
Cell = tuple[str, int]  # (source, class)
SYNTH_POOL = 600  # synthetic faces made per training set, by default


@dataclass(frozen=True)
class Recipe:
    """Stage 2's training mix and schedule.

    ``shares``: the share of each epoch per (source, class) cell (scene crops are few but are
    what cameras see). ``epochs``: the cosine schedule's length. ``synth_bare`` and
    ``synth_donors``: the sources ("face", "scene") of the faces the synthetic masks worn
    incorrectly are put on and taken from. ``focal_gamma`` and ``class_weight``: the loss
    (0 and None: plain cross-entropy, as the first recipes were trained)."""

    shares: dict[Cell, float]
    epochs: int = EPOCHS
    synth_bare: tuple[str, ...] = ("face", "scene")
    synth_donors: tuple[str, ...] = ("face", "scene")
    synth_pool: int = SYNTH_POOL
    focal_gamma: float = 0.0
    class_weight: tuple[float, ...] | None = None

    def summary(self) -> dict:
        return {"shares": {f"{s}/{c}": v for (s, c), v in self.shares.items()}, "epochs": self.epochs,
                "epoch_size": EPOCH_SIZE, "synth_bare": list(self.synth_bare),
                "synth_donors": list(self.synth_donors), "synth_pool": self.synth_pool,
                "focal_gamma": self.focal_gamma,
                "class_weight": list(self.class_weight) if self.class_weight else None}


RECIPES: dict[str, Recipe] = {
    # the recipe of the model shipped before cross-validation
    "scenes": Recipe({("face", 0): 0.15, ("face", 1): 0.15, ("scene", 0): 0.2, ("scene", 1): 0.2,
                      ("scene", 2): 0.1, ("scene", NOT_FACE): 0.2}),
    # a tenth of every epoch from synthetic masks worn incorrectly
    "synth": Recipe({("face", 0): 0.125, ("face", 1): 0.125, ("scene", 0): 0.2, ("scene", 1): 0.15,
                     ("scene", 2): 0.1, ("synth", 2): 0.1, ("scene", NOT_FACE): 0.2}),
    # what the `synth` folds asked for: a longer schedule; synthetic masks made from scene
    # faces only (face-mask/train's drawn-on masks taught that low masks there are
    # violations) and fewer of them; a larger share of face-mask/train; a focal loss
    # (gamma 1) that weighs the masks worn incorrectly twice
    "synth_long": Recipe({("face", 0): 0.175, ("face", 1): 0.15, ("scene", 0): 0.2,
                          ("scene", 1): 0.125, ("scene", 2): 0.1, ("synth", 2): 0.06,
                          ("scene", NOT_FACE): 0.19},
                         epochs=SYNTH_LONG_EPOCHS, synth_bare=("scene",), synth_donors=("scene",),
                         synth_pool=300, focal_gamma=1.0, class_weight=(1.0, 1.0, 2.0, 1.0)),
    # one change at a time after synth_long: `synth` exactly (shares, synthesis sources, loss)
    # with only a longer cosine schedule, so the folds say what the schedule alone buys
    "synth_sched": Recipe({("face", 0): 0.125, ("face", 1): 0.125, ("scene", 0): 0.2, ("scene", 1): 0.15,
                           ("scene", 2): 0.1, ("synth", 2): 0.1, ("scene", NOT_FACE): 0.2},
                          epochs=SYNTH_SCHED_EPOCHS),
    # the next step after synth_sched and the stage-1 control: `synth` exactly (shares, 2 epochs,
    # plain cross-entropy, 600 synthetic faces put on bare faces of face-mask/train and the
    # scenes) with only the masks taken from scene faces with a mask (real masks), never from
    # face-mask/train's, many of them drawn on: pasted low, those taught that such masks are
    # violations (the synth folds' face-mask/val fell from 99.1 % to 96-98 %)
    "synth_donors": Recipe({("face", 0): 0.125, ("face", 1): 0.125, ("scene", 0): 0.2, ("scene", 1): 0.15,
                            ("scene", 2): 0.1, ("synth", 2): 0.1, ("scene", NOT_FACE): 0.2},
                           synth_donors=("scene",)),
}
FEATURE_LR, HEAD_LR = 3e-5, 3e-4


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


def freeze_batchnorm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def stage_loss(logits: torch.Tensor, y: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """Cross-entropy, or with ``focal_gamma`` the focal loss (1 - p)^gamma * CE, each sample
    weighted by its class's ``class_weight`` (a weighted mean)."""
    if not recipe.focal_gamma and recipe.class_weight is None:
        return nn.functional.cross_entropy(logits, y)
    ce = nn.functional.cross_entropy(logits, y, reduction="none")
    loss = (1 - torch.exp(-ce)) ** recipe.focal_gamma * ce
    if recipe.class_weight is None:
        return loss.mean()
    weight = torch.tensor(recipe.class_weight, dtype=logits.dtype)[y]
    return (loss * weight).sum() / weight.sum()


def train_epoch(model: nn.Module, samples: list[Sample], optimizer: torch.optim.Optimizer,
                rng: np.random.Generator, recipe: Recipe, batch_size: int = 32) -> float:
    model.train()
    freeze_batchnorm(model)  # small data: keep the stock statistics
    total = 0.0
    for i in range(0, len(samples), batch_size):
        batch = samples[i:i + batch_size]
        x = mask_tensor([augmented_crop(s, rng) for s in batch])
        y = torch.tensor([s.label for s in batch])
        loss = stage_loss(model(x), y, recipe)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(samples)


def probabilities(model: nn.Module, samples: list[Sample]) -> np.ndarray:
    """Softmax over SCENE_LABELS of the runtime crop of each sample (no augmentation)."""
    return probabilities_of_crops(model, [runtime_crop(s) for s in samples])


def probabilities_of_crops(model: nn.Module, crops: list[np.ndarray]) -> np.ndarray:
    model.eval()
    if not crops:
        return np.zeros((0, len(SCENE_LABELS)), np.float32)
    with torch.no_grad():
        return np.concatenate([torch.softmax(model(mask_tensor(crops[i:i + 64])), 1).numpy()
                               for i in range(0, len(crops), 64)])


def draw_epoch(cells: dict[Cell, list[Sample]], recipe: dict[Cell, float],
               rng: np.random.Generator) -> list[Sample]:
    """EPOCH_SIZE samples, each cell its share (with repeats when it is small), shuffled."""
    drawn: list[Sample] = []
    for cell, share in recipe.items():
        pool = cells[cell]
        if not pool:  # only in a tiny test set: the share goes to the others
            continue
        n = round(share * EPOCH_SIZE)
        drawn += [pool[i] for i in rng.choice(len(pool), n, replace=len(pool) < n)]
    return [drawn[i] for i in rng.permutation(len(drawn))]


def train_stage(base: nn.Module, cells: dict[Cell, list[Sample]], recipe: Recipe,
                seed: int, stop_after: int | None = None,
                after_epoch: Callable[[int, nn.Module], None] | None = None) -> SceneMaskModel:
    """Stage 2 from a copy of the stage-1 ``base``: ``stop_after`` epochs (all by default) of a
    cosine schedule ``recipe.epochs`` long, seeded; ``after_epoch(epoch, model)`` is called after each (1-based)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SceneMaskModel(copy.deepcopy(base))
    head = [*model.reduce.parameters(), *model.expand.parameters(), *model.out.parameters()]
    optimizer = torch.optim.AdamW([{"params": model.bottom.parameters(), "lr": FEATURE_LR},
                                   {"params": head, "lr": HEAD_LR}], weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.epochs)
    for epoch in range(1, (stop_after or recipe.epochs) + 1):
        start = time.monotonic()
        loss = train_epoch(model, draw_epoch(cells, recipe.shares, rng), optimizer, rng, recipe)
        scheduler.step()
        log.info("build.scene_stage epoch=%d loss=%.4f secs=%.0f", epoch, loss, time.monotonic() - start)
        if after_epoch is not None:
            after_epoch(epoch, model)
    return model


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


class MemberMean(nn.Module):
    """Several stage-2 models trained alike from different seeds, taken as one: the log of their
    mean probabilities, plus ``shift`` (the operating points, applied once, to the mean), so
    the export is one ONNX the runtime reads like a single model (``build.py --members``;
    measured, not shipped: models/README.md, "Members")."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("shift", torch.zeros(len(SCENE_LABELS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-30)) + self.shift


def fold_operating_points(model: SceneMaskModel | MemberMean, violation_t: float, not_face_t: float) -> None:
    """Shift the logits so that the runtime's 0.5 points are the chosen ones:
    P(violation | face) > t  <=>  with the with_mask logit raised by logit(t), > 0.5;
    P(not_face) > u          <=>  with the not_face logit lowered by logit(u), > 0.5."""
    with torch.no_grad():
        model.shift[0] = logit(violation_t)
        model.shift[NOT_FACE] = -logit(not_face_t)
