"""Stage 1 of the mask classifier: the stock model fine-tuned on face-mask/train (two classes).

Seeded; the epoch with the best balanced accuracy on a split of train by base id (never
val) is kept. Stage 2 (models/scene_stage.py) starts from it.
"""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np
import torch
from torch import nn

from models.mask_data import (
    SEED,
    Sample,
    augmented_crop,
    balanced_accuracy,
    balanced_log_loss,
    mask_tensor,
    runtime_crop,
)
from models.mobilenet import MaskModel

log = logging.getLogger("models.build")



def weights_sha256(model: nn.Module) -> str:
    """sha256 over the state dict (names and raw float bytes, in name order): the stage 1's
    fingerprint, comparable between builds (a torch.save file's bytes need not be)."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def predict_no_mask(model: nn.Module, samples: list[Sample]) -> np.ndarray:
    model.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(samples), 64):
            batch = mask_tensor([runtime_crop(s) for s in samples[i:i + 64]])
            probs.append(torch.softmax(model(batch), 1)[:, 1].numpy())
    return np.concatenate(probs)


def freeze_batchnorm(model: nn.Module) -> None:
    """Small data set: keep the stock BatchNorm statistics instead of re-estimating them."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def train_epoch(model, samples, optimizer, class_weight, rng, batch_size=32) -> float:
    model.train()
    freeze_batchnorm(model)
    order = rng.permutation(len(samples))
    total = 0.0
    for i in range(0, len(order), batch_size):
        batch = [samples[j] for j in order[i:i + batch_size]]
        x = mask_tensor([augmented_crop(s, rng) for s in batch])
        y = torch.tensor([s.label for s in batch])
        loss = nn.functional.cross_entropy(model(x), y, weight=class_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(samples)


def fine_tune(model: MaskModel, train: list[Sample], select: list[Sample],
              epochs: int, seed: int = SEED) -> tuple[MaskModel, list[dict]]:
    """Seeded fine-tuning; the epoch with the best balanced accuracy on `select` wins."""
    rng = np.random.default_rng(seed)
    counts = np.bincount([s.label for s in train], minlength=2)
    class_weight = torch.tensor(len(train) / (2 * counts), dtype=torch.float32)
    optimizer = torch.optim.AdamW([
        {"params": model.bottom.parameters(), "lr": 1e-4},
        {"params": [*model.reduce.parameters(), *model.expand.parameters(),
                    *model.out.parameters()], "lr": 5e-4}], weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    labels = np.array([s.label for s in select])
    best, best_state, history = (-1.0, 0.0), None, []
    for epoch in range(epochs):
        start = time.monotonic()
        loss = train_epoch(model, train, optimizer, class_weight, rng)
        scheduler.step()
        probs = predict_no_mask(model, select)
        score = balanced_accuracy(labels, probs > 0.5)
        select_loss = balanced_log_loss(labels, probs)
        history.append({"epoch": epoch + 1, "train_loss": round(loss, 4),
                        "select_balanced_accuracy": round(score, 4),
                        "select_balanced_log_loss": round(select_loss, 4)})
        log.info("build.mask.epoch epoch=%d loss=%.4f select_bal_acc=%.4f select_loss=%.4f "
                 "secs=%.0f", epoch + 1, loss, score, select_loss, time.monotonic() - start)
        # The selection split saturates near 100 %, so ties go to the lower log-loss.
        if (score, -select_loss) > best:
            best = (score, -select_loss)
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, history
