"""Cameras (opened, frame rate measured) and the vision models they need (sha256 against the manifest)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

from agent.config.devices import CameraConfig
from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import Check
from agent.redact import redact_url


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """FFmpeg inside OpenCV writes its errors ("[tcp @ 0x…] Connection … failed") straight to
    file descriptor 2, between the doctor's rows; the row says it in words. Its log level is
    fixed when OpenCV first opens a stream, so the descriptor is pointed at /dev/null instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_camera(camera: CameraConfig, seconds: float) -> Check:
    with _native_stderr_silenced():
        return _check_camera(camera, seconds)


def _check_camera(camera: CameraConfig, seconds: float) -> Check:
    import cv2

    name = f"camera {camera.id}"
    source: str | int = camera.url
    shown = redact_url(camera.url)
    capture = cv2.VideoCapture(source)
    try:
        if not capture.isOpened():
            return Check(name, False, f"cannot open {shown}",
                         "check the URL / credentials / device path (and group video for /dev/video*)")
        file_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        frames, started = 0, time.monotonic()
        size = (0, 0)
        while time.monotonic() - started < seconds:
            ok, frame = capture.read()
            if not ok:
                break
            frames += 1
            size = frame.shape[1], frame.shape[0]
        elapsed = max(time.monotonic() - started, 1e-6)
    finally:
        capture.release()
    if frames == 0:
        return Check(name, False, f"{shown} opened but gave no frame",
                     "check the stream (another client holding the device? wrong stream path?)")
    fps = frames / elapsed
    detail = f"{shown}: {frames} frames in {elapsed:.1f}s = {fps:.1f} fps at {size[0]}x{size[1]}"
    if os.path.isfile(camera.url):  # a file decodes as fast as the CPU goes: its own rate is what counts
        fps = file_fps
        detail = f"{shown}: video file, {frames} frames decoded, {fps:g} fps at {size[0]}x{size[1]}"
    if fps < camera.analyse_fps:
        return Check(name, True, detail + f" (below analyse_fps {camera.analyse_fps:g})",
                     "raise the camera's frame rate or lower analyse_fps", warn=True)
    return Check(name, True, detail)


def check_cameras(config: AgentConfig, seconds: float) -> list[Check]:
    return [check_camera(camera, seconds) for camera in config.cameras]


def check_models(config: AgentConfig) -> list[Check]:
    from agent.vision.models import (
        ModelIntegrityError,
        load_manifest,
        resolve_models_dir,
        verified_model_path,
    )

    if not config.vision.enabled or not config.cameras:
        return [Check("models", True, "vision off or no cameras: models not needed")]
    directory = resolve_models_dir(config.vision.models_dir)
    try:
        manifest = load_manifest(directory)
    except (OSError, ValueError) as exc:
        return [Check("models", False, f"no valid manifest in {directory}: {str(exc).splitlines()[0]}",
                      "reinstall (systemd/install.sh upgrade) or set vision.models_dir")]
    checks = []
    for name, entry in manifest.models.items():
        try:
            path = verified_model_path(directory, entry)
            checks.append(Check(f"model {name}", True, f"{path.name} sha256 {entry.sha256[:12]}… matches"))
        except ModelIntegrityError as exc:
            checks.append(Check(f"model {name}", False, str(exc).split(";")[0],
                                "restore the file: reinstall (systemd/install.sh upgrade) "
                                "or rebuild with models/build.py"))
    return checks
