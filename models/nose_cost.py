"""What the nose cue would cost per face on the device: one fold's cue exported to ONNX (into
a scratch directory, never models/), checked against torch, timed in onnxruntime with one
thread, beside the patch's cut (alignment + warp, numpy/OpenCV) and, for scale, the shipped
mask classifier on one face.

    python models/nose_cost.py --cache DIR --out SCRATCH_DIR [--variant nose32]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.vision import nose  # noqa: E402
from models import nose_cue  # noqa: E402
from models.scene_data import ScenePhoto, matched_faces  # noqa: E402


def timed(run: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median and 90th percentile of ``repeat`` runs, in milliseconds (after 20 warm-up runs)."""
    for _ in range(20):
        run()
    times = []
    for _ in range(repeat):
        tick = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - tick))
    times.sort()
    return {"median_ms": round(statistics.median(times), 4),
            "p90_ms": round(times[int(0.9 * len(times))], 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", choices=sorted(nose_cue.VARIANTS), default="nose32")
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args(argv)
    import onnxruntime as ort
    import torch

    torch.set_num_threads(1)
    patch = nose_cue.VARIANTS[args.variant]
    model = nose_cue.nose_net()
    model.load_state_dict(torch.load(args.cache / f"nose-{args.variant}-fold0.pt", map_location="cpu"))
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"nose_cue_{args.variant}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, nose_cue.example_input(patch), str(path), opset_version=17,
                          dynamo=False, input_names=["input"], output_names=["logit"],
                          dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    photos: list[ScenePhoto] = pickle.loads((args.cache / "data-scenes.pkl").read_bytes())
    faces = [(p.image, p.found[j].landmarks) for p in photos[:40] for _i, j in matched_faces(p)]
    patches = [nose_cue.patch_of(image, points, patch) for image, points in faces]
    x = nose.patch_batch(patches[:16])
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    diff = float(np.max(np.abs(session.run(None, {"input": x})[0] - expected)))
    one = nose.patch_batch(patches[:1])
    k = iter(range(10 ** 9))
    result: dict[str, Any] = {
        "variant": args.variant, "onnx_bytes": path.stat().st_size,
        "parameters": sum(p.numel() for p in model.parameters()), "max_abs_diff_vs_torch": diff,
        "onnxruntime": ort.__version__, "threads": 1,
        "cue_inference_one_face": timed(lambda: session.run(None, {"input": one}), args.repeat),
        "cue_inference_batch_of_8_per_face": {
            key: round(v / 8, 4) for key, v in timed(
                lambda: session.run(None, {"input": np.repeat(one, 8, 0)}), args.repeat // 4).items()},
        "patch_cut_one_face": timed(lambda: nose_cue.patch_of(*faces[next(k) % len(faces)], patch),
                                    args.repeat)}
    mask_path = REPO / "models" / "mask_classifier.onnx"
    if mask_path.is_file():  # the shipped classifier, for scale: what every judged face costs now
        mask = ort.InferenceSession(str(mask_path), options, providers=["CPUExecutionProvider"])
        name = mask.get_inputs()[0].name
        crop = np.zeros((1, 3, 128, 128), np.float32)
        result["mask_classifier_one_face"] = timed(lambda: mask.run(None, {name: crop}),
                                                   max(100, args.repeat // 10))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
