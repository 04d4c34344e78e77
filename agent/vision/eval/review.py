"""What ``vision eval --scenes`` counted wrong, shown to a person, and that person's audit.

A data set's boxes are not the truth. Annotators leave out faces in a crowd, behind a hand
or a board, at the frame's edge; a detector that finds such a face is counted wrong. The
figure alone cannot tell that apart from a jacket taken for a face, so:

* ``--review DIR`` writes each false detection and each missed face as a picture (the
  annotated boxes in green, the detection or the missed face in red, with room around it),
  a contact sheet of the false detections, and ``review.csv`` listing them with an empty
  ``verdict`` column;
* a person fills in the verdicts (``face``: a real face the data set left without a box;
  ``not_face``: a real false alarm) and passes the file back with ``--audit FILE``: the
  report then splits the false detections by verdict.

The headline figure stays the data set's own; the audit is printed beside it, never
instead of it. Rows are matched to detections by photo and overlap, so an audit written
for one model still applies to the next one's slightly different boxes.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.vision.crops import Box
from agent.vision.eval.scenes import Finding, SceneReport, iou, load_scenes

log = logging.getLogger(__name__)

COLUMNS = ("kind", "photo", "x1", "y1", "x2", "y2", "label", "score", "verdict", "picture")
VERDICTS = ("face", "not_face")
AUDIT_IOU = 0.5  # the same detection from another build of the model
CONTEXT = 3.0  # the picture spans this many box sides around the box's centre
PICTURE_PX = 240
TILE_PX = 160
SHEET_COLUMNS = 8
GREEN, RED = (0, 200, 0), (0, 0, 255)


@dataclass(frozen=True)
class AuditRow:
    photo: str
    box: Box
    verdict: str


@dataclass(frozen=True)
class AuditSplit:
    """The report's false detections, by the audit's verdict."""

    face: int
    not_face: int
    unaudited: int
    photos: int

    @property
    def not_face_per_image(self) -> float:
        return self.not_face / max(1, self.photos)

    def lines(self) -> list[str]:
        return [f"audit of the false detections: {self.face} real faces without a box, "
                f"{self.not_face} not a face, {self.unaudited} not audited",
                f"false detections per image that are not a face (audited): {self.not_face_per_image:.3f}"]

    def summary(self) -> dict[str, object]:
        return {"face": self.face, "not_face": self.not_face, "unaudited": self.unaudited,
                "not_face_per_image": round(self.not_face_per_image, 4)}


def write_review(report: SceneReport, scenes_dir: Path, out_dir: Path) -> Path:
    """Pictures and ``review.csv`` for every false detection and missed face; returns the CSV."""
    images = {scene.image_path.name: scene for scene in load_scenes(scenes_dir)}
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, tiles = [], []
    findings = [("false", f) for f in report.false_found] + [("missed", f) for f in report.missed]
    for n, (kind, finding) in enumerate(findings, 1):
        scene = images[finding.photo]
        image = cv2.imread(str(scene.image_path))
        if image is None:  # counted as unreadable by the evaluation already
            continue
        picture = framed(image, finding.box, [a.box for a in scene.faces])
        name = f"{n:04d}-{kind}-{Path(finding.photo).stem}.jpg"
        cv2.imwrite(str(out_dir / name), picture)
        if kind == "false":
            tiles.append(numbered(cv2.resize(picture, (TILE_PX, TILE_PX)), n))
        rows.append({"kind": kind, "photo": finding.photo, "label": finding.label,
                     "score": "" if finding.score is None else f"{finding.score:.3f}",
                     "verdict": "", "picture": name,
                     **{k: f"{v:.1f}" for k, v in zip(("x1", "y1", "x2", "y2"), finding.box, strict=True)}})
    csv_path = out_dir / "review.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if tiles:
        cv2.imwrite(str(out_dir / "false-detections.jpg"), contact_sheet(tiles))
    log.info("vision.eval.review dir=%s false=%d missed=%d", out_dir, len(report.false_found),
             len(report.missed))
    return csv_path


def framed(image: np.ndarray, box: Box, annotated: Sequence[Box]) -> np.ndarray:
    """The region around ``box``, annotated boxes green and ``box`` red, about PICTURE_PX square."""
    height, width = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1], 8) * CONTEXT / 2
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(width, cx + half)), int(min(height, cy + half))
    region = image[y0:y1, x0:x1]
    scale = PICTURE_PX / max(region.shape[:2])
    picture = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)

    def draw(b: Box, colour: tuple[int, int, int]) -> None:
        p1 = (round((b[0] - x0) * scale), round((b[1] - y0) * scale))
        p2 = (round((b[2] - x0) * scale), round((b[3] - y0) * scale))
        cv2.rectangle(picture, p1, p2, colour, 1)

    for other in annotated:
        draw(other, GREEN)
    draw(box, RED)
    return picture


def numbered(tile: np.ndarray, n: int) -> np.ndarray:
    cv2.putText(tile, str(n), (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 2)
    cv2.putText(tile, str(n), (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return tile


def contact_sheet(tiles: list[np.ndarray]) -> np.ndarray:
    blank = np.zeros_like(tiles[0])
    padded = tiles + [blank] * (-len(tiles) % SHEET_COLUMNS)
    rows = [np.hstack(padded[i:i + SHEET_COLUMNS]) for i in range(0, len(padded), SHEET_COLUMNS)]
    return np.vstack(rows)


def read_audit(path: Path, kind: str = "false") -> list[AuditRow]:
    """The filled-in rows of one kind in a review.csv (false detections by default; the
    model build's audit of its mined not-a-face crops uses ``mined``); a bad verdict is an error."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"kind", "photo", "x1", "y1", "x2", "y2", "verdict"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a review file, missing columns {sorted(missing)}")
        audit = []
        for line, row in enumerate(reader, 2):
            verdict = (row["verdict"] or "").strip()
            if row["kind"] != kind or not verdict:
                continue
            if verdict not in VERDICTS:
                raise ValueError(f"{path}:{line}: verdict {verdict!r} is not one of {VERDICTS}")
            box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            audit.append(AuditRow(row["photo"], box, verdict))  # type: ignore[arg-type]
    return audit


def split_by_audit(report: SceneReport, audit: Sequence[AuditRow]) -> AuditSplit:
    counts = {"face": 0, "not_face": 0, "": 0}
    for finding in report.false_found:
        counts[verdict_of(finding, audit)] += 1
    return AuditSplit(counts["face"], counts["not_face"], counts[""], report.photos)


def verdict_of(finding: Finding, audit: Sequence[AuditRow]) -> str:
    """The verdict of the audited box that best overlaps this detection, or "" if none does."""
    best, verdict = AUDIT_IOU, ""
    for row in audit:
        if row.photo == finding.photo and (overlap := iou(row.box, finding.box)) >= best:
            best, verdict = overlap, row.verdict
    return verdict
