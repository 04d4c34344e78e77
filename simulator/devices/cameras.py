"""Synthetic kitchen cameras for tests, benchmarks and the demo.

Frames are composed from REAL face photos (``../shared/datasets/face-mask``, read in
place, never copied into the repository) pasted onto a drawn kitchen background: tiled
wall, steel counter, shelves and a stove. A ``Script`` says, segment by segment, whether
a person is in view and whether they wear a mask; the person sways a little, so the
scene moves while someone is there and is perfectly still when the kitchen is idle.

Three ways out:
  * ``write_video(path, script)``: an MJPEG-in-AVI file (the camera source reads files,
    looping if asked);
  * ``MjpegServer``: HTTP multipart MJPEG on 127.0.0.1, the way many IP cameras serve
    it, with ``unplug()`` / ``plug()`` to drop the camera off the network and bring it
    back on the same port (the reconnect path is real);
  * ``RtspCamera``: RTSP with H.264 from a live test pattern (GStreamer's RTSP server in
    a child process, see ``simulator/devices/rtsp_server_gst.py``), the main stream an IP camera
    gives a recorder or a relay; ``kill()`` / ``start()`` on the same port.
"""

from __future__ import annotations

import argparse
import logging
import math
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("simulator.cameras")

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO.parent / "shared" / "datasets"
FACE_MASK = DATASETS / "face-mask"
# Photos the demo uses by default (val split): clear frontal faces found by RetinaFace
# when pasted at the default size.
DEFAULT_FACES = {
    "with_mask": "val/with_mask/0417.jpg",
    "without_mask": "val/without_mask/316.jpg",
}
WIDTH, HEIGHT = 640, 480
BOUNDARY = "frame"


@dataclass(frozen=True)
class Segment:
    """``seconds`` of the scene: nobody (``person=None``) or a person with/without mask."""

    seconds: float
    person: str | None = None  # "with_mask" | "without_mask" | None


@dataclass
class Script:
    segments: list[Segment]

    @property
    def duration_s(self) -> float:
        return sum(s.seconds for s in self.segments)

    def at(self, t: float) -> Segment:
        """The segment playing at ``t`` seconds (the last one after the end)."""
        elapsed = 0.0
        for segment in self.segments:
            elapsed += segment.seconds
            if t < elapsed:
                return segment
        return self.segments[-1]

    @classmethod
    def mask_removed(cls, idle_s: float = 3.0, masked_s: float = 5.0, removed_s: float = 10.0,
                     back_on_s: float = 8.0, idle_after_s: float = 3.0) -> Script:
        """Idle kitchen, a cook with a mask, mask off for ``removed_s``, back on, cook leaves."""
        return cls([Segment(idle_s), Segment(masked_s, "with_mask"),
                    Segment(removed_s, "without_mask"), Segment(back_on_s, "with_mask"),
                    Segment(idle_after_s)])

    @classmethod
    def idle(cls, seconds: float = 60.0) -> Script:
        return cls([Segment(seconds)])

    @classmethod
    def busy(cls, seconds: float = 60.0, person: str = "with_mask") -> Script:
        return cls([Segment(seconds, person)])


def dataset_face(relative: str) -> np.ndarray:
    path = FACE_MASK / relative
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"face image not readable: {path} (data set at {FACE_MASK})")
    return image


def kitchen_background(width: int = WIDTH, height: int = HEIGHT, seed: int = 7) -> np.ndarray:
    """A plausible kitchen: tiled wall, shelf with pots, stove, steel counter."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), (214, 220, 222), np.uint8)
    tile = max(16, width // 20)
    for x in range(0, width, tile):
        cv2.line(img, (x, 0), (x, int(height * 0.62)), (180, 186, 188), 1)
    for y in range(0, int(height * 0.62), tile):
        cv2.line(img, (0, y), (width, y), (180, 186, 188), 1)
    shelf_y = int(height * 0.22)
    cv2.rectangle(img, (0, shelf_y), (width, shelf_y + 8), (150, 150, 155), -1)
    for i in range(6):
        x = int(width * (0.05 + 0.16 * i))
        color = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(img, (x, shelf_y - 40), (x + 50, shelf_y), color, -1)
        cv2.ellipse(img, (x + 25, shelf_y - 40), (25, 6), 0, 0, 360, (90, 90, 90), 2)
    counter_y = int(height * 0.62)
    cv2.rectangle(img, (0, counter_y), (width, height), (170, 172, 175), -1)
    cv2.rectangle(img, (0, counter_y), (width, counter_y + 12), (120, 122, 126), -1)
    stove_x = int(width * 0.70)
    cv2.rectangle(img, (stove_x, counter_y - 20), (width - 10, counter_y), (40, 40, 45), -1)
    for k in range(2):
        cv2.circle(img, (stove_x + 45 + 80 * k, counter_y - 10), 22, (30, 30, 200), 2)
    noise = rng.normal(0, 3, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


@dataclass
class KitchenScene:
    """Renders a ``Script`` frame by frame; ``render(t)`` is pure in ``t``."""

    script: Script
    width: int = WIDTH
    height: int = HEIGHT
    face_height: int = 200
    faces: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FACES))
    seed: int = 7

    def __post_init__(self) -> None:
        self.background = kitchen_background(self.width, self.height, self.seed)
        self._faces = {kind: self._prepare(dataset_face(rel)) for kind, rel in self.faces.items()}

    def _prepare(self, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = self.face_height / face.shape[0]
        face = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = face.shape[:2]
        # feathered edge so the photo blends into the scene instead of a hard rectangle
        alpha = np.zeros((h, w), np.float32)
        cv2.ellipse(alpha, (w // 2, h // 2), (int(w * 0.48), int(h * 0.49)), 0, 0, 360, 1.0, -1)
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(2.0, w / 30))[..., None]
        return face, alpha

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        segment = self.script.at(t)
        if segment.person is not None:
            self._draw_person(frame, segment.person, t)
        return frame

    def _draw_person(self, frame: np.ndarray, person: str, t: float) -> None:
        face, alpha = self._faces[person]
        h, w = face.shape[:2]
        # a slow sway of a few pixels: the scene moves while someone is there
        cx = int(self.width * 0.42 + 14 * math.sin(2 * math.pi * t / 3.0))
        top = int(self.height * 0.12 + 5 * math.sin(2 * math.pi * t / 1.7))
        body_top = top + int(h * 0.85)
        cv2.ellipse(frame, (cx, body_top + 120), (int(w * 0.9), 150), 0, 180, 360,
                    (245, 245, 245), -1)  # white jacket
        x1, y1 = cx - w // 2, top
        x2, y2 = min(self.width, x1 + w), min(self.height, y1 + h)
        x1c, y1c = max(0, x1), max(0, y1)
        region = frame[y1c:y2, x1c:x2].astype(np.float32)
        f = face[y1c - y1:y2 - y1, x1c - x1:x2 - x1].astype(np.float32)
        a = alpha[y1c - y1:y2 - y1, x1c - x1:x2 - x1]
        frame[y1c:y2, x1c:x2] = (f * a + region * (1 - a)).astype(np.uint8)


def write_video(path: Path | str, script: Script, fps: float = 10.0, **scene_kwargs) -> Path:
    """Render the script to an MJPEG AVI file at ``fps``."""
    path = Path(path)
    scene = KitchenScene(script, **scene_kwargs)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                             (scene.width, scene.height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with MJPG")
    try:
        for n in range(int(round(script.duration_s * fps))):
            writer.write(scene.render(n / fps))
    finally:
        writer.release()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MjpegServer:
    """A camera on 127.0.0.1 serving ``/video`` as multipart MJPEG, rendered live.

    The script plays from the moment the server is first started (looping when it ends
    and ``loop`` is set). ``unplug()`` closes the listening socket and every open stream;
    ``plug()`` listens again on the same port.
    """

    def __init__(self, script: Script, fps: float = 10.0, port: int | None = None,
                 loop: bool = True, quality: int = 85, prerender: bool = False,
                 **scene_kwargs) -> None:
        self.scene = KitchenScene(script, **scene_kwargs)
        self.fps = fps
        self.port = port or free_port()
        self.loop = loop
        self.quality = quality
        # prerender: encode one pass of the script up front and serve it from memory, so a
        # benchmark's cameras cost (almost) nothing on the machine being measured
        self._cache = [self._encode(self.scene.render(n / fps))
                       for n in range(max(1, int(script.duration_s * fps)))] if prerender else None
        self.frames_served = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started: float | None = None
        self._plugged = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video"

    def scene_time(self) -> float:
        t = time.monotonic() - (self._started or time.monotonic())
        duration = self.scene.script.duration_s
        return t % duration if self.loop and duration > 0 else t

    def plug(self) -> None:
        if self._server is not None:
            return
        if self._started is None:
            self._started = time.monotonic()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._plugged.set()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"mjpeg-{self.port}", daemon=True)
        self._thread.start()
        log.info("sim.camera.plugged url=%s", self.url)

    start = plug

    def unplug(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._plugged.clear()  # open streams notice and end
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        log.info("sim.camera.unplugged url=%s", self.url)

    stop = unplug

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("sim.camera.http " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/video":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    camera._stream(self.wfile)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _encode(self, frame: np.ndarray) -> bytes:
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return jpeg.tobytes()

    def _stream(self, out) -> None:  # noqa: ANN001 - a socket file
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while self._plugged.is_set():
            t = self.scene_time()
            if self._cache is not None:
                data = self._cache[int(t * self.fps) % len(self._cache)]
            else:
                data = self._encode(self.scene.render(t))
            out.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                      f"\r\n\r\n".encode() + data + b"\r\n")
            out.flush()
            self.frames_served += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()


SYSTEM_PYTHON = "/usr/bin/python3"  # has the distribution's PyGObject (python3-gi)
RTSP_SERVER_SCRIPT = Path(__file__).with_name("rtsp_server_gst.py")


class RtspCameraError(RuntimeError):
    """The RTSP camera could not be started."""


class RtspCamera:
    """An IP camera's RTSP main stream on 127.0.0.1: H.264 (constrained baseline), no audio.

    A child process serves ``rtsp://127.0.0.1:<port>/cam`` from a moving test pattern
    (``width`` x ``height`` at ``fps``, a key frame every ``gop`` frames: by default one a
    second; real cameras send one every 1-4 s, "smart" codecs far more rarely). ``kill()``
    drops it off the network at once (SIGKILL: open sessions just end); ``start()`` again
    brings it back on the same port, a fresh stream, as a rebooted camera would.
    """

    def __init__(self, port: int | None = None, *, width: int = 320, height: int = 240, fps: int = 10,
                 bitrate_kbps: int = 300, gop: int = 0, pattern: str = "ball", path: str = "/cam",
                 python: str = SYSTEM_PYTHON, file: Path | None = None) -> None:
        self.port = port or free_port()
        self.width, self.height, self.fps = width, height, fps
        self.bitrate_kbps, self.pattern, self.path, self.python = bitrate_kbps, pattern, path, python
        self.gop = gop or fps
        self.file = file  # an MP4 (H.264) served instead of the pattern: no encoder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log = tempfile.NamedTemporaryFile(prefix="rtsp-camera-", suffix=".log")  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> RtspCamera:
        if self.running:
            return self
        args = [self.python, str(RTSP_SERVER_SCRIPT), "--port", str(self.port), "--path", self.path,
                "--width", str(self.width), "--height", str(self.height), "--fps", str(self.fps),
                "--bitrate-kbps", str(self.bitrate_kbps), "--gop", str(self.gop), "--pattern", self.pattern]
        if self.file is not None:
            args += ["--file", str(self.file)]
        deadline = time.monotonic() + timeout
        while True:
            # the child's output goes to a file, never a pipe nobody drains
            self._log.seek(0)
            self._log.truncate()
            self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
            while self.process.poll() is None and b"ready " not in self._output():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if self.process.poll() is None and b"ready " in self._output():
                self.starts += 1
                log.info("sim.camera.rtsp.started url=%s", self.url)
                return self
            self.kill()
            text = self._output().decode(errors="replace").strip()
            if "cannot listen" not in text or time.monotonic() > deadline:
                raise RtspCameraError(f"RTSP camera did not start: {text or 'no output'}"
                                      " (needs python3-gi gir1.2-gst-rtsp-server-1.0"
                                      " gstreamer1.0-plugins-{base,good,ugly})")
            time.sleep(0.2)  # the port is still held by the previous instance's sessions

    def _output(self) -> bytes:
        self._log.flush()
        with open(self._log.name, "rb") as fh:
            return fh.read(4096)

    def kill(self) -> None:
        """Off the network at once, as a pulled cable or a crashed camera."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> RtspCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.devices.cameras {write,serve}``: a demo kitchen camera."""
    parser = argparse.ArgumentParser(prog="simulator.devices.cameras", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write", help="write the 'mask removed' scenario to a video file")
    p.add_argument("path", type=Path)
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--removed-s", type=float, default=10.0)
    p = sub.add_parser("serve", help="serve the scenario as HTTP MJPEG on 127.0.0.1")
    p.add_argument("--port", type=int, default=8554, help="first port (0: free ports)")
    p.add_argument("--count", type=int, default=1, help="cameras, on consecutive ports")
    p.add_argument("--scene", choices=["mask_removed", "idle", "busy"], default="mask_removed")
    p.add_argument("--prerender", action="store_true", help="encode once, serve from memory")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--removed-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    scripts = {"mask_removed": Script.mask_removed(removed_s=args.removed_s), "idle": Script.idle(30),
               "busy": Script.busy(30)}
    script = scripts[getattr(args, "scene", "mask_removed")]
    if args.cmd == "write":
        print(write_video(args.path, script, args.fps))
        return 0
    servers = [MjpegServer(script, fps=args.fps, port=(args.port + i) if args.port else None,
                           prerender=args.prerender) for i in range(args.count)]
    for server in servers:
        server.plug()
        print(server.url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.unplug()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
