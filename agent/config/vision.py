"""The vision section: how the cameras' pictures are judged for masks and chef hats."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.config.base import Strict
from drivers.config_types import Count, PositiveSeconds, Seconds


class VisionConfig(Strict):
    enabled: bool = True
    models_dir: Path | None = Field(None, description="Where manifest.json lives (default: the package's).")
    site_dir: Path = Field(Path("/var/lib/canteen-agent/vision"), description="Per-site enrolment (chef hats).")
    threads: int = Field(1, ge=1, le=8, description="onnxruntime intra-op threads per model.")
    persist_s: PositiveSeconds = Field(5.0, description="A violation must persist this long.")
    clear_s: PositiveSeconds = Field(3.0, description="Compliant this long clears it.")
    pre_roll_s: float = Field(3.0, ge=0, le=60)
    post_roll_s: float = Field(3.0, ge=0, le=60)
    blur_other_faces: bool = True
    mask_threshold: float = Field(
        0.5, gt=0, lt=1, description="P(mask violation: none, or worn under the nose) above this is a violation "
                                     "(the models are shifted so that 0.5 is the point chosen by cross-validation; the nose "
                                     "cue's call uses the same threshold).")
    nose_cue: bool = Field(
        True, description="Let the nose cue (models/nose_cue.onnx, when the models folder has one) decide the "
                          "faces the mask classifier is unsure of: a bare nose above a mask is a violation.")
    nose_gate: float | None = Field(
        None, gt=0, lt=1, description="The cue counts only for faces whose P(mask violation) is above this "
                                      "(default: the point the build chose, in the manifest).")
    face_score_min: float = Field(0.8, gt=0, lt=1)
    detect_upscale: float = Field(
        2.0, ge=0.5, le=4, description="Frames (or moving regions) are enlarged this much before face detection "
                                       "(the detector misses most faces under 32 px at their own size).")
    detect_max_side: int = Field(
        960, ge=160, le=4096, description="...but the detector's input never exceeds this long side (CPU bound).")
    keep_min_face_px: int = Field(
        20, ge=1, description="Detections smaller than this are dropped: too far to judge, mostly clutter "
                              "or faces far in the background.")
    recheck_score_min: float = Field(
        0.3, gt=0, lt=1, description="A small face the detector scores from this up to face_score_min is looked "
                                     "at again on an enlarged crop around it (a second pass), and kept if that "
                                     "pass scores it at least face_score_min; set it to face_score_min to turn "
                                     "the second pass off.")
    recheck_max_px: int = Field(
        48, ge=8, le=4096, description="Only faces smaller than this (short side) get the second pass.")
    verify_faces: bool = Field(
        True, description="Drop detections the mask classifier takes for something else than a face "
                          "(it runs on every face anyway, so this costs nothing).")
    inference_slots: int = Field(
        1, ge=1, le=8, description="How many model inferences the cameras may run at once (each on `threads` "
                                   "cores). One core runs about 5 cameras at 2 analysed fps; 2 uses both cores "
                                   "of a small box but costs about 50 MB more once (onnxruntime's arenas per run).")
    hat_threshold: float = Field(0.5, gt=0, lt=1, description="P(hat) below this is a no-hat violation.")
    agree_frames: tuple[Count, Count] = Field(
        (3, 5), description="N of the last M analysed frames must agree before the state flips (flicker).")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Smaller faces are tracked but not judged (RetinaFace boxes of 24 px faces "
                              "often come out at 20-23 px).")
    track_max_age_s: PositiveSeconds = Field(4.0, description="A face unseen this long has left (its episode ends).")
    motion_hold_s: Seconds = Field(3.0, description="Keep detecting this long after the last motion.")
    clip_fps: float = Field(4.0, gt=0, le=15, description="Frame rate of evidence clips (and the pre-roll buffer).")
    clip_max_side: int = Field(640, ge=160, le=4096, description="Evidence frames are shrunk to this long side.")
    jpeg_quality: int = Field(80, ge=30, le=95)
    evidence_share: float = Field(
        0.25, gt=0, le=1, description="Vision media may use this share of the store's disk budget; "
                                      "beyond it clips are skipped and only snapshots kept.")
    live_fps: float = Field(1.0, gt=0, le=5, description="start_live frame rate.")
    live_max_s: PositiveSeconds = Field(300, description="Longest live session a command may ask for.")
