"""A "nose visible" cue for masks worn incorrectly: how the build trains it (the runtime: agent/vision/nose.py).

The mask classifier sees the whole face at 128 px and learns "worn incorrectly" from ~28
scene faces; synthesis lifts that class but teaches it that some masked faces of
``face-mask/val`` are violations. This cue asks one narrower question, "is the skin of the
nose visible?", of a small patch around the nose, cut by the 5 RetinaFace landmarks every
detected face has (masked or not). Its labels come free from the classes: with_mask ->
covered; without_mask and mask_weared_incorrect -> visible; synthetic low masks
(``models/synth.py``) are "nose visible, mouth covered" and are labelled visible too. So it
learns from thousands of faces, not from 28.

The patch: the face is aligned on a 112-px template (ArcFace's 5-point layout) by the
similarity transform of its eyes and mouth corners (the nose point is a guess under a mask,
so it is not used to place the patch), and the template's box from just above the eye line
to below the nose tip, a little wider than the eyes, is resized to a square (``Patch``). The model is
a 3-layer CNN (23,761 parameters, about 2.8 M multiply-adds per face).

No torch at import: the geometry is the runtime's own (numpy and OpenCV), so the patches the
cue learns from are cut exactly as the camera cuts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from agent.vision import nose
from agent.vision.nose import Landmarks

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Patch:
    """Where the patch is cut (x1, y1, x2, y2 in the 112-px template), its side in pixels,
    how long the cue trains (epochs of 4,000 drawn faces), and how far augmentation moves the
    hue (OpenCV units of 2 degrees) and scales the saturation: a mask the colour of skin is
    the cue's hard case, so it should not lean on colour alone."""

    box: tuple[float, float, float, float] = nose.PATCH_BOX  # eye line to below the nose tip
    px: int = nose.PATCH_PX
    epochs: int = 10
    hue: float = 0.0
    saturation: float = 0.0
    seed: int = 0  # added to the training seed: the same cue trained again from another draw
    # more than one: the cue is the mean P(nose visible) of as many members, each trained as a
    # single cue with its seed shifted by this much (an ensemble: the call then leans less on
    # the luck of one draw; two members cost 0.1 ms per face asked)
    members: tuple[int, ...] = (0,)


VARIANTS = {"nose32": Patch(), "nose48": Patch(px=48, epochs=16),
            "nose32c": Patch(epochs=16, hue=10.0, saturation=0.4),
            "nose32c-seed1": Patch(epochs=16, hue=10.0, saturation=0.4, seed=1000),
            "nose32c-pair": Patch(epochs=16, hue=10.0, saturation=0.4, members=(0, 1000))}
DEFAULT = VARIANTS["nose32"]


def nose_patch(aligned: np.ndarray, patch: Patch = DEFAULT,
               jitter: np.ndarray | None = None) -> np.ndarray:
    """The nose patch (BGR, ``patch.px`` square) of an aligned face."""
    return nose.nose_patch(aligned, patch.box, patch.px, None if jitter is None else list(jitter))


def patch_of(image: np.ndarray, landmarks: Landmarks, patch: Patch = DEFAULT) -> np.ndarray:
    """What the runtime cuts (agent/vision/nose.py): image + the face's 5 landmarks -> the nose patch."""
    return nose.patch_of(image, landmarks, patch.box, patch.px)


def augmented_patch(aligned: np.ndarray, rng: np.random.Generator,
                    patch: Patch = DEFAULT) -> np.ndarray:
    """A patch as a camera might give it: the box a little off (landmarks are noisy), often at
    a lower resolution (a 24-48 px face gives a nose patch of 10-20 px), flipped, the light
    changed, sometimes grey."""
    jitter = np.array([rng.normal(0, 1.5), rng.normal(0, 2.0), rng.normal(0, 0.07),
                       rng.normal(0, 0.08)])
    out = nose_patch(aligned, patch, jitter)
    if rng.random() < 0.6:  # 9-32 px: the nose region of a 24-96 px face
        side = int(rng.integers(9, min(32, patch.px)))
        out = cv2.resize(cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA),
                         (patch.px, patch.px), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if patch.hue or patch.saturation:
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-patch.hue, patch.hue)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1 - patch.saturation, 1 + patch.saturation), 0, 255)
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    out = np.clip(out.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return np.asarray(out, np.uint8)


def nose_net() -> nn.Module:
    """Three 3x3 conv blocks (16, 32, 64 channels), global average, one logit: P(nose
    visible) = sigmoid(logit). About 24 k parameters."""
    from torch import nn

    def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    return nn.Sequential(*block(3, 16, True), *block(16, 32, True), *block(32, 64, False),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 1))


def cue_net(patch: Patch = DEFAULT) -> nn.Module:
    """The network a variant trains: one ``nose_net``, or an ensemble of ``patch.members``."""
    return nose_net() if len(patch.members) == 1 else Ensemble([nose_net() for _ in patch.members])


def Ensemble(members: Sequence[nn.Module]) -> nn.Module:  # noqa: N802  (a class made on demand: torch is imported late)
    """The members' mean P(nose visible), as a logit (what the runtime reads), plus ``shift``
    (the build moves its point onto 0.5 there)."""
    import torch
    from torch import nn

    class _Ensemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)
            self.register_buffer("shift", torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            p = torch.stack([torch.sigmoid(m(x)) for m in self.members]).mean(0)
            p = p.clamp(1e-7, 1 - 1e-7)
            return torch.log(p) - torch.log1p(-p) + self.shift

    return _Ensemble()


def train_cue(aligned: Sequence[np.ndarray], visible: np.ndarray, weights: np.ndarray, seed: int,
              patch: Patch = DEFAULT, epoch_size: int = 4000, batch_size: int = 64) -> nn.Module:
    """The cue, trained on aligned faces (``visible``: 1 nose visible, 0 covered). Each epoch
    draws ``epoch_size`` faces with probability proportional to ``weights`` (a share per
    source and class, as stage 2 draws its crops), augmented; AdamW with a cosine schedule.
    An ensemble variant trains each member so, exactly as the single variant of its seed."""
    import torch
    from torch import nn

    if len(patch.members) > 1:
        return Ensemble([train_cue(aligned, visible, weights, seed,
                                   replace(patch, seed=patch.seed + m, members=(0,)), epoch_size, batch_size)
                         for m in patch.members]).eval()

    torch.manual_seed(seed + patch.seed)
    rng = np.random.default_rng(seed + patch.seed)
    model = nose_net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    epochs = patch.epochs
    steps = epochs * ((epoch_size + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=steps,
                                                    pct_start=0.15)
    p = weights / weights.sum()
    loss_fn = nn.BCEWithLogitsLoss()
    for _epoch in range(epochs):
        model.train()
        drawn = rng.choice(len(aligned), epoch_size, p=p)
        for i in range(0, epoch_size, batch_size):
            idx = drawn[i:i + batch_size]
            x = torch.from_numpy(nose.patch_batch([augmented_patch(aligned[j], rng, patch) for j in idx]))
            y = torch.from_numpy(visible[idx].astype(np.float32))
            loss = loss_fn(model(x)[:, 0], y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return model.eval()


def p_visible(model: nn.Module, patches: Sequence[np.ndarray]) -> np.ndarray:
    """P(nose visible) of each patch."""
    import torch

    if not patches:
        return np.zeros(0, np.float32)
    with torch.no_grad():
        return np.concatenate([np.asarray(torch.sigmoid(model(torch.from_numpy(
            nose.patch_batch(patches[i:i + 256])))[:, 0]).numpy()) for i in range(0, len(patches), 256)])


def example_input(patch: Patch = DEFAULT) -> torch.Tensor:
    import torch

    return torch.zeros(1, 3, patch.px, patch.px)
