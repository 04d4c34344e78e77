"""On-device vision: face detection, mask classification and per-site hat enrolment.

Everything here runs on onnxruntime only; the ONNX files and their manifest live in the
repository's ``models/`` folder and are rebuilt by ``models/build.py`` (which needs torch).
"""
