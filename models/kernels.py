"""The CPU kernels the model builds run on, pinned before numpy, torch, onnxruntime and cv2 load.

Import this module first (each library reads these variables once, when it loads): every build
script that trains or predicts (``build.py``, ``nose_cv.py``, ``nose_views.py``) does, so that a
fold trained by a separate script gives the same floats as one trained inside the build.
"""

from __future__ import annotations

import os

# Unpinned, the same seeded stage 1 gives
# other floats on an AVX-512 host than on an AVX2 one: oneDNN's convolutions and MKL's GEMMs
# and SVD pick their code by instruction set, and the floats soon pick another epoch
# (models/README.md, "Reproducibility", has the runs). Pinned, any x86-64 host with AVX2 runs
# the same code paths. MKL_CBWR=AVX2 is MKL's conditional numerical reproducibility mode
# (fixed code path, cache sizes and reduction order); it holds on Intel CPUs: on others MKL
# documents that it falls back to its own dispatch. MODELS_BUILD_UNPINNED=1 leaves the
# environment as it is (to measure what the pinning costs, or changes).
PINNED_KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN: torch's convolutions
    "MKL_CBWR": "AVX2",  # MKL: linear layers, the head's SVD
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX-512 loops (exp, log)
}
PINNED = os.environ.get("MODELS_BUILD_UNPINNED") != "1"
if PINNED:
    os.environ.update(PINNED_KERNELS)
