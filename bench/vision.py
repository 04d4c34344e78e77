"""Vision benchmark: where a frame's time goes, what an idle camera costs, how many cameras fit.

    .venv/bin/python -m bench.vision [--quick] [--max-cameras 8] [--json out.json]

Everything runs with the real ONNX models on simulated kitchen cameras made from real
face photos (simulator/devices/cameras.py). Live cameras are HTTP MJPEG servers in a child
process, serving pre-encoded frames (10 frames/s, 640x480) so they cost the measured
process nothing; CPU figures are this process's CPU time (all its threads) over wall time.

1. memory: resident set before the models, with them loaded and warmed up (one inference),
   with one camera, then two: per camera = what the second one adds (target <= 20 MB; the
   first also pays for the arenas all cameras share), and the bytes the pre-roll ring holds;
2. idle camera: CPU of one camera watching an empty kitchen (target <= 5 % of one core);
3. per-frame split on the 'mask removed' video: decode, motion, detection, classification,
   the rest; and the pipeline's time per detected frame against the models' own inference
   time on the same frame (target <= 1.2x);
4. capacity: N cameras, each with a cook in view all the time (detection on every analysed
   frame, the worst case), at 2 analysed frames/s: the largest N where every camera keeps
   >= 1.9 analysed frames/s (target >= 4 on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from agent.app import Agent
from agent.config.devices import CameraConfig
from agent.config_file.model import AgentConfig
from agent.vision.camera import Frame
from agent.vision.pipeline import CameraPipeline, CameraWorker, VisionModels
from simulator.devices.cameras import Script, write_video

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def make_agent(tmp: Path, cameras: list[dict[str, Any]] | None = None) -> Agent:
    config = AgentConfig.model_validate({
        "identity": {"agent_id": "bench", "school_id": "1", "canteen_id": "k1"},
        "store": {"path": str(tmp / "agent.db"), "media_dir": str(tmp / "media")},
        "cameras": cameras or [], "vision": {"site_dir": str(tmp / "site")}})
    return Agent(config)


class Cameras:
    """N simulated MJPEG cameras in a child process."""

    def __init__(self, count: int, scene: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.devices.cameras", "serve", "--port", "0", "--count", str(count),
             "--scene", scene, "--prerender"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        self.urls = [self.proc.stdout.readline().strip() for _ in range(count)]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_workers(agent: Agent, models: VisionModels, urls: list[str],
                  first: int = 1) -> list[CameraWorker]:
    workers = []
    for n, url in enumerate(urls, start=first):
        cam = CameraConfig.model_validate(
            {"id": f"cam{n}", "url": url, "analyse_fps": 2.0})
        worker = CameraWorker(cam, agent.config.vision, models, agent.recorder, agent.devices,
                              agent.now, 10**10)
        agent.supervisor.start(worker)
        workers.append(worker)
    return workers


def measure(workers: list[CameraWorker], seconds: float) -> dict[str, Any]:
    before = [(w.source.counters.frames_analysed, w.source.counters.frames_due,
               w.source.counters.frames_dropped) for w in workers]
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    per_camera = []
    for w, (a, d, x) in zip(workers, before, strict=True):
        c = w.source.counters
        per_camera.append({"camera": w.cam.id, "analysed_fps": round((c.frames_analysed - a) / wall, 2),
                           "dropped": c.frames_dropped - x, "due": c.frames_due - d})
    return {"cpu_pct_of_one_core": round(100 * cpu / wall, 1), "cameras": per_camera,
            "loadavg": os.getloadavg()[0]}


def section_memory(tmp: Path, seconds: float) -> tuple[dict[str, Any], VisionModels]:
    before = rss_mb()
    agent = make_agent(tmp / "mem")
    models = VisionModels.load(agent.config.vision)
    loaded = rss_mb()
    warm_up(models)
    warmed = rss_mb()
    cameras = Cameras(2, "busy")
    try:
        workers = start_workers(agent, models, cameras.urls[:1])
        time.sleep(seconds)
        one = rss_mb()
        workers += start_workers(agent, models, cameras.urls[1:], first=2)
        time.sleep(seconds)
        running = rss_mb()
        fps = [w.source.counters.frames_analysed for w in workers]
        ring_kb = [round(w.source.ring.stored_bytes() / 1024) for w in workers]
    finally:
        agent.supervisor.stop()
        cameras.close()
    # The first camera also pays for what every camera shares once (onnxruntime's arenas
    # growing to the detector's real input sizes); the second shows what one more costs.
    return {"before_models_mb": before["VmRSS"], "models_loaded_mb": loaded["VmRSS"],
            "models_warmed_mb": warmed["VmRSS"], "one_camera_mb": one["VmRSS"],
            "two_cameras_mb": running["VmRSS"],
            "first_camera_mb": round(one["VmRSS"] - warmed["VmRSS"], 1),
            "per_camera_mb": round(running["VmRSS"] - one["VmRSS"], 1),
            "ring_kb": ring_kb, "peak_mb": running["VmHWM"], "frames_analysed": fps}, models


def warm_up(models: VisionModels) -> None:
    """One detection and classification on a full frame: onnxruntime sizes its arenas."""
    video = cv2.VideoCapture(str(write_video(Path(tempfile.mkdtemp()) / "warm.avi",
                                             Script.mask_removed(), fps=10)))
    ok, image = video.read()
    video.release()
    faces = models.detector.detect(image)
    assert models.mask is not None
    models.mask.predict_boxes(image, [f.box for f in faces] or [(0.0, 0.0, 64.0, 64.0)])


def section_idle(tmp: Path, models: VisionModels, seconds: float) -> dict[str, Any]:
    agent = make_agent(tmp / "idle")
    cameras = Cameras(1, "idle")
    try:
        workers = start_workers(agent, models, cameras.urls)
        time.sleep(3)  # connect, learn the background
        result = measure(workers, seconds)
        result["detected_frames"] = workers[0].pipeline.timings.detected_frames
        result["frames_read"] = workers[0].source.counters.frames_read
    finally:
        agent.supervisor.stop()
        cameras.close()
    return result


def section_split(tmp: Path, models: VisionModels, passes: int) -> dict[str, Any]:
    video = write_video(tmp / "scene.avi", Script.mask_removed(), fps=10)
    agent = make_agent(tmp / "split", [{"id": "cam1", "url": str(video)}])
    cam = agent.config.cameras[0]
    pipeline = CameraPipeline(cam, agent.config.vision, models, None, agent.config.identity.tz)
    step = 5  # 10 frames/s video, 2 analysed frames/s
    decode_s = pipeline_s = model_s = 0.0
    detected_pipeline_s = 0.0
    frames = detected = 0

    t_offset = 0.0
    for _ in range(passes):
        capture = cv2.VideoCapture(str(video))
        n = 0
        while True:
            tick = time.perf_counter()
            ok = all(capture.grab() for _ in range(step))
            if not ok:
                break
            ok, image = capture.retrieve()
            decoded = time.perf_counter() - tick
            n += step
            frame = Frame(image, t_offset + n / 10, agent.now(), n)
            before = pipeline.timings.detected_frames
            tick = time.perf_counter()
            pipeline.analyse(frame)
            analysed = time.perf_counter() - tick
            decode_s += decoded
            pipeline_s += decoded + analysed
            frames += 1
            if pipeline.timings.detected_frames > before:
                detected += 1
                detected_pipeline_s += decoded + analysed
                # the models alone on the same frame: whole-frame detection, then the classifier
                tick = time.perf_counter()
                vision = agent.config.vision
                faces = [f for f in models.detector.detect(image) if f.score >= vision.face_score_min]
                boxes = [f.box for f in faces if min(f.width, f.height) >= vision.min_face_px]
                if boxes and models.mask is not None:
                    models.mask.predict_boxes(image, boxes)
                model_s += time.perf_counter() - tick
        capture.release()
        t_offset += n / 10 + 60  # a gap: the next pass starts as a new scene
    t = pipeline.timings
    per = 1000 / max(1, frames)
    return {
        "analysed_frames": frames, "detected_frames": detected,
        "per_analysed_frame_ms": {"decode": round(decode_s * per, 2), "motion": round(t.motion_s * per, 2),
                                  "detection": round(t.detect_s * per, 2),
                                  "classification": round(t.classify_s * per, 2),
                                  "tracking_compliance": round(t.other_s * per, 2),
                                  "total": round(pipeline_s * per, 2)},
        "per_detected_frame_ms": {"pipeline": round(1000 * detected_pipeline_s / max(1, detected), 2),
                                  "models_only": round(1000 * model_s / max(1, detected), 2)},
        "pipeline_over_models": round(detected_pipeline_s / max(1e-9, model_s), 3),
    }


def section_capacity(tmp: Path, models: VisionModels, max_cameras: int, seconds: float) -> dict[str, Any]:
    results = []
    fit = 0
    for count in range(1, max_cameras + 1):
        agent = make_agent(tmp / f"cap{count}")
        cameras = Cameras(count, "busy")
        try:
            workers = start_workers(agent, models, cameras.urls)
            time.sleep(4)
            result = measure(workers, seconds)
        finally:
            agent.supervisor.stop()
            cameras.close()
        worst = min(c["analysed_fps"] for c in result["cameras"])
        result.update(count=count, worst_analysed_fps=worst)
        results.append(result)
        print(f"  {count} cameras: worst {worst:.2f} analysed fps, CPU {result['cpu_pct_of_one_core']}% "
              f"of one core, load {result['loadavg']:.1f}", flush=True)
        if worst < 1.9:
            break
        fit = count
    return {"fit_at_2fps": fit, "runs": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.vision", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--max-cameras", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    run_s = 6 if args.quick else 15
    report: dict[str, Any] = {"cpus": os.cpu_count(), "threads_per_model": None}
    with tempfile.TemporaryDirectory(prefix="bench-vision-") as tmp_name:
        tmp = Path(tmp_name)
        print("memory (two cameras) ...", flush=True)
        report["memory"], models = section_memory(tmp, run_s)
        report["threads_per_model"] = models.detector.model.session.get_session_options().intra_op_num_threads
        print(json.dumps(report["memory"]), flush=True)
        print("idle camera ...", flush=True)
        report["idle_camera"] = section_idle(tmp, models, 2 * run_s)
        print(json.dumps(report["idle_camera"]), flush=True)
        print("per-frame split ...", flush=True)
        report["split"] = section_split(tmp, models, 1 if args.quick else 2)
        print(json.dumps(report["split"]), flush=True)
        print("capacity at 2 analysed frames/s ...", flush=True)
        report["capacity"] = section_capacity(tmp, models, args.max_cameras, run_s)
    print(summary(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def summary(r: dict[str, Any]) -> str:
    split = r["split"]["per_analysed_frame_ms"]
    per_det = r["split"]["per_detected_frame_ms"]
    mem = r["memory"]
    return "\n".join([
        "",
        f"Vision bench ({r['cpus']} cores, onnxruntime threads per model {r['threads_per_model']})",
        f"  per analysed frame (ms): decode {split['decode']}, motion {split['motion']}, detection "
        f"{split['detection']}, classification {split['classification']}, tracking+compliance "
        f"{split['tracking_compliance']}, total {split['total']}",
        f"  per detected frame: pipeline {per_det['pipeline']} ms vs models alone {per_det['models_only']} ms "
        f"-> {r['split']['pipeline_over_models']}x (target <= 1.2x)",
        f"  idle camera: {r['idle_camera']['cpu_pct_of_one_core']} % of one core "
        f"(target <= 5 %), detections {r['idle_camera']['detected_frames']}",
        f"  cameras at 2 analysed fps: {r['capacity']['fit_at_2fps']} fit (target >= 4)",
        f"  memory: {mem['before_models_mb']} MB before models, {mem['models_loaded_mb']} MB loaded, "
        f"{mem['models_warmed_mb']} MB warmed, {mem['one_camera_mb']} MB with one camera, "
        f"{mem['two_cameras_mb']} MB with two (peak {mem['peak_mb']} MB)",
        f"  per camera: {mem['per_camera_mb']} MB for one more (target <= 20 MB), the first "
        f"{mem['first_camera_mb']} MB with the shared arenas; pre-roll ring {mem['ring_kb']} KB",
        f"  load average during the run: {os.getloadavg()[0]:.1f} (other work on this machine "
        "inflates the CPU figures)",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
