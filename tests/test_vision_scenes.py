"""`vision eval --scenes`: the counting on a scene fixture with known boxes.

The fixture is built at test time from ../shared/datasets/face-mask-scenes (nothing copied
into the repository): two real faces cut from its photos are pasted on a plain canvas.
The annotation written for it boxes one of them (a real face, to be found), a blank patch
(a box with no face: missed) and a tiny blank patch (missed, in the smallest bucket), and
leaves the second face out (found by the detector with nothing annotated near: a false
detection). A second photo is blank and annotated as empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.vision import VisionConfig
from agent.vision.eval import cli as evaluate
from agent.vision.eval import review as scene_review
from agent.vision.eval import scenes as scene_eval
from agent.vision.eval.scenes import Annotated, evaluate_scenes, iou, read_voc
from agent.vision.faces import Face
from agent.vision.nose import joined
from agent.vision.scene import VisionModels, find_faces

SCENES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-mask-scenes"
AUDITS = Path(__file__).resolve().parents[1] / "models" / "audits"
needs_scenes = pytest.mark.skipif(not SCENES.is_dir(), reason=f"no data set at {SCENES}")
CANVAS = (360, 640)  # height, width
GREY = 118


@pytest.fixture(scope="module")
def models() -> VisionModels:
    return VisionModels.load(VisionConfig(threads=2))


def voc(objects: list[tuple[str, tuple[int, int, int, int]]], width: int, height: int) -> str:
    body = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects)
    return (f"<annotation><size><width>{width}</width><height>{height}</height></size>"
            f"{body}</annotation>")


def face_patch(models: VisionModels, label: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A real face of this class from the shared photos, with a margin, and its box in the patch.

    Taken in file order among large faces, the first one the detector finds on a plain
    canvas: the test is about counting, so its faces must be unambiguous.
    """
    vision = VisionConfig()
    for xml in sorted((SCENES / "train" / "annotations").glob("*.xml")):
        for face in read_voc(xml):
            x1, y1, x2, y2 = (int(v) for v in face.box)
            if face.label != label or not 60 <= face.short_side <= 120:
                continue
            image = cv2.imread(str(SCENES / "train" / "images" / f"{xml.stem}.jpg"))
            m = (x2 - x1) // 2
            px1, py1 = max(0, x1 - m), max(0, y1 - m)
            patch = image[py1:min(image.shape[0], y2 + m), px1:min(image.shape[1], x2 + m)].copy()
            box = (x1 - px1, y1 - py1, x2 - px1, y2 - py1)
            canvas = np.full((*CANVAS, 3), GREY, np.uint8)
            canvas[20:20 + patch.shape[0], 20:20 + patch.shape[1]] = patch
            placed = (box[0] + 20, box[1] + 20, box[2] + 20, box[3] + 20)
            found = find_faces(models, vision, canvas)
            if len(found) == 1 and iou(found[0].box, placed) >= 0.6:
                return patch, box
    raise AssertionError(f"no clear {label} face in {SCENES}")


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory: pytest.TempPathFactory, models: VisionModels) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    (root / "images").mkdir()
    (root / "annotations").mkdir()
    masked, masked_box = face_patch(models, "with_mask")
    bare, _ = face_patch(models, "without_mask")
    canvas = np.full((*CANVAS, 3), GREY, np.uint8)
    canvas[30:30 + masked.shape[0], 30:30 + masked.shape[1]] = masked
    canvas[30:30 + bare.shape[0], 400:400 + bare.shape[1]] = bare
    annotated = [("with_mask", tuple(v + 30 for v in masked_box)),  # real face: found
                 ("without_mask", (250, 280, 290, 330)),  # 40 x 50 px of blank: missed
                 ("mask_weared_incorrect", (600, 330, 610, 340))]  # 10 px of blank: missed
    cv2.imwrite(str(root / "images" / "kitchen.png"), canvas)
    (root / "annotations" / "kitchen.xml").write_text(voc(annotated, CANVAS[1], CANVAS[0]))
    cv2.imwrite(str(root / "images" / "empty.png"), np.full((*CANVAS, 3), GREY, np.uint8))
    (root / "annotations" / "empty.xml").write_text(voc([], CANVAS[1], CANVAS[0]))
    return root


@needs_scenes
def test_scene_counting_on_known_boxes(scene_dir: Path, models: VisionModels) -> None:
    report = evaluate_scenes(scene_dir, VisionConfig(threads=2), models)
    assert report.photos == 2
    assert report.bucket_total == [1, 0, 1, 1]  # <16, 16-24, 24-48, >=48
    assert report.bucket_found == [0, 0, 0, 1]
    assert (report.judged_found, report.judged_total) == (1, 2)
    assert report.face_recall == 0.5
    with_mask, without_mask, incorrect = report.confusion
    assert sum(with_mask) == 1 and sum(without_mask) == 0 and sum(incorrect) == 0
    assert with_mask[2] == 0  # a 60+ px face is judged
    assert (report.violations, report.violations_called) == (1, 0)  # the blank 40 px box
    assert report.violation_recall == 0.0
    assert report.false_detections == 1  # the unannotated face
    assert report.false_judged == 1
    assert report.false_per_image == 0.5
    assert report.ms_per_photo > 0


@needs_scenes
def test_scene_eval_command_prints_the_four_figures_last(scene_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main(["--scenes", str(scene_dir), "--threads", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-4:]
    assert last[0].startswith("face recall: 50.0%")
    assert last[1].startswith("balanced accuracy on found faces: ")
    assert last[2].startswith("end-to-end violation recall: 0.0% (0 / 1)")
    assert last[3].startswith("false detections per image: 0.500 (1 in 2 photos)")
    assert evaluate.main(["--scenes", str(scene_dir / "nowhere")]) == 2


def test_matching_is_one_to_one_best_overlap_first() -> None:
    from agent.vision.faces import Face

    annotated = [Annotated((0, 0, 10, 10), "with_mask"), Annotated((2, 0, 12, 10), "without_mask")]
    faces = [Face((2, 0, 12, 10), 0.9, ()), Face((50, 50, 60, 60), 0.9, ())]
    assert scene_eval.match(annotated, faces) == {1: 0}  # the exact one wins, the other is missed
    assert scene_eval.near_an_annotation(faces[0].box, annotated)
    assert not scene_eval.near_an_annotation(faces[1].box, annotated)
    assert [scene_eval.bucket_of(s) for s in (15.9, 16, 23.9, 24, 47.9, 48)] == [0, 1, 1, 2, 2, 3]


def test_unknown_class_in_an_annotation_is_refused(tmp_path: Path) -> None:
    xml = tmp_path / "a.xml"
    xml.write_text(voc([("chef_hat", (1, 1, 5, 5))], 10, 10))
    with pytest.raises(ValueError, match="unknown class 'chef_hat'"):
        read_voc(xml)


@needs_scenes
def reused(models: VisionModels, vision: VisionConfig, image: np.ndarray, face: Face) -> float | None:
    """What judging should say of a verified face: the verification's P(violation), joined with
    the nose cue's where the classifier is unsure; nothing for a face too small to judge."""
    from agent.vision.scene import seen_no_mask

    p = seen_no_mask(face)
    if p is None or min(face.width, face.height) < vision.min_face_px:
        return None
    cue = models.nose
    if cue is None or not cue.gate < p <= vision.mask_threshold:
        return p
    return joined(p, cue.p_visible(image, [face.landmarks])[0], cue.gate, vision.mask_threshold)


def test_verification_keeps_the_faces_and_judging_reuses_its_probability(models: VisionModels) -> None:
    """On real val photos: the classifier's not-a-face check never adds a false detection and
    (almost) never drops an annotated face (its point drops at most 1 % of the faces, of the
    masked ones and of the violations, each: on the shipped model it drops none of these photos'
    detections, models/README.md); its mask probability is what judging reuses (joined with the
    nose cue's for the faces it is unsure of)."""
    from agent.vision.scene import SeenFace, judge_faces

    on, off = VisionConfig(threads=2), VisionConfig(threads=2, verify_faces=False)
    false_on = false_off = found_on = found_off = 0
    for scene in scene_eval.load_scenes(SCENES / "val")[:50]:
        image = cv2.imread(str(scene.image_path))
        for vision in (on, off):
            result = scene_eval.analyse_photo(models, vision, image, scene.faces)
            if vision is on:
                false_on += len(result.false_detections)
                found_on += len(result.matches)
                assert all(isinstance(f, SeenFace) for f in result.faces)
                again = judge_faces(models, on, image, result.faces)
                # the cue's batch of a photo's faces and one face alone differ in float rounding only
                assert [j.no_mask for j in again] == pytest.approx(
                    [reused(models, on, image, f) for f in result.faces], abs=1e-6)
            else:
                false_off += len(result.false_detections)
                found_off += len(result.matches)
    assert false_on <= false_off
    assert found_on >= found_off - 1


@needs_scenes
def test_review_shows_what_was_counted_wrong_and_an_audit_splits_it(
        scene_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--review lists the fixture's one false detection (the unannotated face) and its one
    missed face >= 24 px (the blank 40 x 50 box), with pictures; a verdict written into the
    file comes back through --audit beside, not instead of, the headline figure."""
    review = tmp_path / "review"
    assert evaluate.main(["--scenes", str(scene_dir), "--threads", "2", "--review", str(review)]) == 0
    with (review / "review.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["kind"], r["photo"], r["label"]) for r in rows] == [
        ("false", "kitchen.png", "detection"), ("missed", "kitchen.png", "without_mask")]
    assert [float(rows[1][k]) for k in ("x1", "y1", "x2", "y2")] == [250, 280, 290, 330]
    for row in rows:
        picture = cv2.imread(str(review / row["picture"]))
        assert picture is not None and max(picture.shape[:2]) == scene_review.PICTURE_PX
    assert cv2.imread(str(review / "false-detections.jpg")) is not None
    capsys.readouterr()

    rows[0]["verdict"] = "not_face"
    x1, y1, x2, y2 = (float(rows[0][k]) for k in ("x1", "y1", "x2", "y2"))
    shifted = {"x1": x1 + 2, "y1": y1 + 2, "x2": x2 + 2, "y2": y2 + 2}  # another build's box
    audit = tmp_path / "audit.csv"
    with audit.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([rows[0] | {k: f"{v:.1f}" for k, v in shifted.items()}, rows[1]])
    assert evaluate.main(["--scenes", str(scene_dir), "--threads", "2", "--audit", str(audit)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-6] == "audit of the false detections: 0 real faces without a box, 1 not a face, 0 not audited"
    assert out[-5] == "false detections per image that are not a face (audited): 0.500"
    assert out[-1].startswith("false detections per image: 0.500 (1 in 2 photos)")


def test_an_audit_applies_by_photo_and_overlap_and_refuses_bad_verdicts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = scene_eval.SceneReport("x", 24, 0.5, photos=4, false_found=[
        scene_eval.Finding("a.jpg", (10, 10, 40, 40), "detection", 0.9),
        scene_eval.Finding("a.jpg", (100, 10, 130, 40), "detection", 0.9),
        scene_eval.Finding("b.jpg", (10, 10, 40, 40), "detection", 0.9)])
    audit = [scene_review.AuditRow("a.jpg", (11, 11, 41, 41), "face"),  # the first, moved a pixel
             scene_review.AuditRow("a.jpg", (115, 10, 145, 40), "not_face"),  # IoU 0.33: another box
             scene_review.AuditRow("c.jpg", (10, 10, 40, 40), "not_face")]  # another photo
    split = scene_review.split_by_audit(report, audit)
    assert (split.face, split.not_face, split.unaudited) == (1, 0, 2)
    assert split.not_face_per_image == 0.0

    bad = tmp_path / "bad.csv"
    bad.write_text("kind,photo,x1,y1,x2,y2,verdict\nfalse,a.jpg,1,1,5,5,maybe\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: verdict 'maybe'"):
        scene_review.read_audit(bad)
    bad.write_text("photo,verdict\na.jpg,face\n")
    with pytest.raises(ValueError, match="not a review file"):
        scene_review.read_audit(bad)
    assert evaluate.main(["--scenes", str(tmp_path), "--audit", str(bad)]) == 2  # refused before the run
    assert "not a review file" in capsys.readouterr().out


def test_the_committed_audits_are_well_formed() -> None:
    """models/audits: a person's verdicts on val's and train's false detections (boxes only)."""
    for split in ("val", "train"):
        rows = scene_review.read_audit(AUDITS / f"face-mask-scenes-{split}.csv")
        assert rows and all(r.verdict in scene_review.VERDICTS for r in rows)
    mined = scene_review.read_audit(AUDITS / "face-mask-scenes-train-mined.csv", kind="mined")
    assert sum(r.verdict == "not_face" for r in mined) == 31  # what --mined-audit trains on
