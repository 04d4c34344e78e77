"""Vision capability: one supervised worker per camera, the live hub, the camera commands.

OpenCV, onnxruntime and numpy (about 90 MB resident) are imported only here, inside
``build``, and only when a camera is configured: a box without cameras never loads them.

Models are loaded once (integrity-checked against the manifest) and shared by every
camera. If they cannot be loaded the agent still runs everything else: vision is off,
the error is logged and a ``vision_unavailable`` alarm says why. Each camera worker
reports its silence to the agent's health watch (``camera_offline``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.wiring.capability import BuildContext, Capability
from agent.workflows.device_health import camera_policy

if TYPE_CHECKING:
    from agent.vision.live import LiveHub
    from agent.vision.pipeline import CameraWorker

log = logging.getLogger("agent.wiring.vision")


@dataclass(frozen=True, slots=True, kw_only=True)
class VisionCapability(Capability):
    workers: Mapping[str, CameraWorker] = field(default_factory=dict)
    live: LiveHub | None = None


def build(ctx: BuildContext) -> VisionCapability:
    config = ctx.config
    if not config.vision.enabled or not config.cameras:
        return VisionCapability("vision")
    from agent.vision.live import LiveHub  # heavy: cv2, onnxruntime, numpy
    from agent.vision.models import ModelIntegrityError
    from agent.vision.pipeline import CameraWorker, VisionModels

    try:
        models = VisionModels.load(config.vision)
    except (ModelIntegrityError, OSError, ValueError) as exc:
        log.error("vision.disabled reason=%s", exc)
        ctx.recorder.raise_alarm("vision_unavailable", {"device_id": "vision"},
                                 "视觉识别模型无法加载，请告知安装人员 / vision models could not be loaded: "
                                 "tell the installer", severity="major", details={"error": str(exc)})
        return VisionCapability("vision")
    ctx.recorder.clear_alarm("vision_unavailable", {"device_id": "vision"}, "视觉识别模型已加载 / vision models loaded")
    budget = int(config.store.disk_budget_mb * 1024 * 1024)
    workers = [CameraWorker(cam, config.vision, models, ctx.recorder, ctx.devices, ctx.now, budget,
                            health=ctx.device_health.on_health)
               for cam in config.cameras]
    live = LiveHub({w.cam.id: w.source for w in workers}, config.vision, ctx.recorder, ctx.now,
                   publish=ctx.publish_live)
    log.info("vision ready cameras=%d hat_enrolled=%s", len(workers), models.hat is not None)
    return VisionCapability("vision", components=(*workers, live), commands=live.handlers(),
                            offline=dict.fromkeys((c.id for c in config.cameras), camera_policy()),
                            workers={w.cam.id: w for w in workers}, live=live)
