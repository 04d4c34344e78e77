"""`canteen-agent vision eval`: the mask model on face crops (--data), the whole camera path
on annotated photos (--scenes), and the model's cross-validation figures (--folds)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.config.vision import VisionConfig
from agent.vision.eval.crop_set import evaluate_mask, format_report
from agent.vision.eval.folds import cv_record, format_folds, nose_record
from agent.vision.eval.review import read_audit, split_by_audit, write_review
from agent.vision.eval.scenes import evaluate_scenes, format_scene_report
from agent.vision.models import ModelIntegrityError, load_manifest


def main(argv: list[str]) -> int:
    """`canteen-agent vision eval (--data DIR | --scenes DIR | --folds) [--config FILE] [--json]`."""
    parser = argparse.ArgumentParser(
        prog="canteen-agent vision eval",
        description="Measure the mask classifier on a folder of face crops (--data), or the "
                    "whole camera path on VOC-annotated photos (--scenes); or print the figures "
                    "the model was chosen by, fold by fold (--folds).")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--data", type=Path, help="folder with with_mask/ and without_mask/ images")
    what.add_argument("--scenes", type=Path, help="folder with images/ and VOC annotations/")
    what.add_argument("--folds", action="store_true",
                      help="the model's cross-validation figures on held-out photos, as its build recorded them")
    parser.add_argument("--config", type=Path, default=None,
                        help="agent config whose vision section to use (default: the defaults)")
    parser.add_argument("--models", type=Path, default=None, help="models folder")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--threshold", type=float, default=None,
                        help="no-mask threshold (default: the config's mask_threshold)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--review", type=Path, default=None, metavar="DIR",
                        help="--scenes: write each false detection and missed face as a picture, "
                             "and DIR/review.csv for a person's verdicts")
    parser.add_argument("--audit", type=Path, default=None, metavar="FILE",
                        help="--scenes: a review.csv with verdicts (face / not_face): split the "
                             "false detections by it")
    args = parser.parse_args(argv)
    if args.scenes is None and (args.review or args.audit):
        parser.error("--review and --audit go with --scenes")
    try:
        vision = vision_config(args)
        if args.folds:
            return folds_main(args, vision)
        if args.scenes is not None:
            return scenes_main(args, vision)
        report = evaluate_mask(args.data, vision.models_dir, vision.threads, vision.mask_threshold)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    except ModelIntegrityError as exc:
        print(f"error: {exc}")
        return 3
    print(json.dumps(report.summary(), indent=2) if args.json else format_report(report))
    return 0


def scenes_main(args: argparse.Namespace, vision: VisionConfig) -> int:
    audit = read_audit(args.audit) if args.audit is not None else None  # a bad file fails before the run
    scenes = evaluate_scenes(args.scenes, vision)
    if args.review is not None:
        print(f"review: {write_review(scenes, args.scenes, args.review)}", file=sys.stderr)
    split = split_by_audit(scenes, audit) if audit is not None else None
    if args.json:
        summary = scenes.summary() | ({"audit": split.summary()} if split else {})
        print(json.dumps(summary, indent=2))
    else:
        print(format_scene_report(scenes, split.lines() if split else ()))
    return 0


def folds_main(args: argparse.Namespace, vision: VisionConfig) -> int:
    models = load_manifest(vision.models_dir).models
    entry, cue = models.get("mask_classifier"), models.get("nose_cue")
    record = cv_record(entry.quality) if entry is not None else None
    if record is None:
        print("this mask model was not chosen by cross-validation: its manifest has no fold figures")
        return 1
    nose = nose_record(cue.quality) if cue is not None and vision.nose_cue else None
    if args.json:
        print(json.dumps({**record, "nose_cue": nose} if nose else record, indent=2))
    else:
        print(format_folds(record, nose))
    return 0


def vision_config(args: argparse.Namespace) -> VisionConfig:
    """The vision settings a camera would run with, and the command line's overrides."""
    vision = VisionConfig()
    if args.config is not None:
        from agent.config_file.loader import load_config

        vision = load_config(args.config).vision
    overrides: dict[str, object] = {}
    if args.models is not None:
        overrides["models_dir"] = args.models
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.threshold is not None:
        overrides["mask_threshold"] = args.threshold
    return vision.model_copy(update=overrides) if overrides else vision
