"""Compliance episodes, tracking and motion gating on synthetic inputs (no models, no video)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from agent.config.devices import WorkingHours
from agent.vision.compliance import Cleared, Compliance, Observation, Raised, Rules, within_hours
from agent.vision.motion import MotionDetector, in_zones
from agent.vision.pipeline import detection_region
from agent.vision.tracking import FaceTracker

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
FPS = 2.0
BOX = (100.0, 80.0, 160.0, 150.0)


def play(compliance: Compliance, p_no_mask: list[float | None], track_id: int = 1,
         start: float = 0.0) -> list[tuple[float, object]]:
    """Feed one observation per analysed frame at 2 frames/s; return (t, event) pairs."""
    out = []
    for n, p in enumerate(p_no_mask):
        t = start + n / FPS
        obs = [] if p is None else [Observation(track_id, BOX, {"no_mask": p, "no_hat": None})]
        for event in compliance.observe(t, T0 + timedelta(seconds=t), obs):
            out.append((t, event))
    return out


def seconds(value: float, s: float) -> list[float]:
    return [value] * int(s * FPS)


def test_mask_removed_for_10_s_is_one_violation_then_cleared() -> None:
    compliance = Compliance(Rules(persist_s=5, clear_s=3, agree=(3, 5)))
    script = seconds(0.01, 5) + seconds(0.97, 10) + seconds(0.02, 8)
    events = play(compliance, script)
    raised = [(t, e) for t, e in events if isinstance(e, Raised)]
    cleared = [(t, e) for t, e in events if isinstance(e, Cleared)]
    assert len(raised) == 1 and len(cleared) == 1
    t_raise, r = raised[0]
    assert r.kind == "no_mask" and r.track_id == 1
    assert r.started_t == 5.0 and t_raise == pytest.approx(10.0)  # mask off at 5 s, persisted 5 s
    assert r.seen_s == pytest.approx(5.0) and r.confidence == pytest.approx(0.97)
    assert r.started_at == T0 + timedelta(seconds=5)
    t_clear, c = cleared[0]
    assert c.reason == "fixed"
    assert t_clear == pytest.approx(15.0 + 3.0)  # mask back at 15 s, compliant 3 s
    assert compliance.open_violations == []


def test_short_removal_and_flicker_raise_nothing() -> None:
    compliance = Compliance(Rules(persist_s=5, clear_s=3, agree=(3, 5)))
    # mask pulled down for 3 s (under persist_s), then single-frame misclassifications
    script = seconds(0.02, 4) + seconds(0.9, 3) + seconds(0.02, 4)
    script += [0.9, 0.02, 0.02, 0.9, 0.02, 0.02, 0.02, 0.9, 0.02] * 3
    assert play(compliance, script) == []


def test_gaps_in_judgement_do_not_break_an_episode() -> None:
    """Frames where the face is too small (None) neither raise nor clear."""
    compliance = Compliance(Rules(persist_s=4, clear_s=2, agree=(2, 3)))
    script = [0.9, None, 0.9, 0.9, None, None, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    events = play(compliance, script)
    assert [type(e) for _, e in events] == [Raised]


def test_person_leaving_clears_and_a_new_episode_raises_again() -> None:
    compliance = Compliance(Rules(persist_s=2, clear_s=2, agree=(2, 3)))
    events = play(compliance, seconds(0.9, 4))
    assert [type(e) for _, e in events] == [Raised]
    left = compliance.end_tracks(4.0, T0, [1])
    assert [(c.track_id, c.reason) for c in left] == [(1, "left")]
    assert compliance.episodes == {}
    # the same track id coming back (or a new person) starts a new episode
    again = play(compliance, seconds(0.9, 4), start=10.0)
    assert [type(e) for _, e in again] == [Raised]
    # fixed, then removed again: a second event for the same person
    fixed = play(compliance, seconds(0.05, 3), start=14.0)
    assert [type(e) for _, e in fixed] == [Cleared]
    relapse = play(compliance, seconds(0.9, 4), start=17.0)
    assert [type(e) for _, e in relapse] == [Raised]


def test_n_of_m_frames_rule_when_persist_is_zero() -> None:
    compliance = Compliance(Rules(persist_s=0, clear_s=0.5, agree=(3, 4)))
    events = play(compliance, [0.9, 0.1, 0.9, 0.9, 0.9])
    assert [(t, type(e)) for t, e in events] == [(1.5, Raised)]  # 3rd violating of the last 4


def test_hat_and_mask_are_separate_episodes() -> None:
    compliance = Compliance(Rules(persist_s=1, clear_s=1, agree=(1, 1)))
    events = []
    for n in range(4):
        t = n / FPS
        obs = [Observation(7, BOX, {"no_mask": 0.9, "no_hat": 0.8 if n >= 2 else 0.1})]
        events += compliance.observe(t, T0, obs)
    assert sorted((e.kind, e.track_id) for e in events) == [("no_mask", 7)]
    events = compliance.observe(2.0, T0, [Observation(7, BOX, {"no_mask": 0.9, "no_hat": 0.8})])
    assert [(e.kind, type(e)) for e in events] == [("no_hat", Raised)]
    cleared = compliance.end_all(3.0, T0, "outside_working_hours")
    assert sorted(c.kind for c in cleared) == ["no_hat", "no_mask"]


def test_bad_agreement_is_refused() -> None:
    with pytest.raises(ValueError, match="N of M"):
        Rules(agree=(4, 3))


def test_working_hours_including_overnight_windows() -> None:
    day = WorkingHours(start="05:30", end="20:30")
    assert within_hours(T0, day, TZ)
    assert not within_hours(T0.replace(hour=21), day, TZ)
    assert not within_hours(T0.replace(hour=5, minute=29), day, TZ)
    night = WorkingHours(start="22:00", end="06:00")
    assert within_hours(T0.replace(hour=23), night, TZ) and within_hours(T0.replace(hour=2), night, TZ)
    assert not within_hours(T0, night, TZ)
    assert within_hours(T0.replace(hour=3), None, TZ)
    # an aware time in another zone is judged in the camera's local time
    assert within_hours(datetime(2026, 11, 30, 2, 0, tzinfo=ZoneInfo("UTC")), day, TZ)


def test_tracker_keeps_ids_while_faces_move_and_expires_them() -> None:
    tracker = FaceTracker(max_age_s=2.0)
    a, b = (100.0, 100.0, 160.0, 170.0), (400.0, 90.0, 470.0, 170.0)
    ids, lost = tracker.update(0.0, [a, b])
    assert ids == [1, 2] and lost == []
    # at 2 frames/s a face may move more than its overlap allows: the centre rule holds it
    moved_a = (140.0, 104.0, 200.0, 174.0)
    ids, _ = tracker.update(0.5, [b, moved_a])
    assert ids == [2, 1]
    ids, lost = tracker.update(3.0, [b])
    assert ids == [2] and lost == [1]
    ids, _ = tracker.update(3.5, [a])
    assert ids == [3]  # ids are never reused


def test_motion_gate_ignores_still_scenes_and_ignore_zones() -> None:
    rng = np.random.default_rng(3)
    scene = rng.integers(80, 160, (480, 640, 3), dtype=np.uint8)
    scene = np.ascontiguousarray(np.repeat(np.repeat(scene[::16, ::16], 16, 0), 16, 1))
    motion = MotionDetector(min_area=0.002)
    assert not motion.update(scene).moving  # learns the background
    for _ in range(5):
        noisy = np.clip(scene.astype(int) + rng.integers(-4, 5, scene.shape), 0, 255).astype(np.uint8)
        assert not motion.update(noisy).moving  # sensor noise is not motion
    moved = scene.copy()
    moved[200:300, 400:480] = 255
    result = motion.update(moved)
    assert result.moving and result.regions
    x1, y1, x2, y2 = result.regions[0]
    assert 380 <= x1 <= 410 and 180 <= y1 <= 210 and 470 <= x2 <= 500 and 290 <= y2 <= 320
    # the same change inside an ignore zone (a TV, a window) is not motion
    zoned = MotionDetector(min_area=0.002, ignore_zones=[[(0.55, 0.3), (0.9, 0.3), (0.9, 0.75), (0.55, 0.75)]])
    zoned.update(scene)
    assert not zoned.update(moved).moving
    assert in_zones((0.7, 0.5), zoned.zones) and not in_zones((0.1, 0.1), zoned.zones)


def test_detection_region_is_the_padded_union_or_the_whole_frame() -> None:
    shape = (480, 640, 3)
    assert detection_region(shape, []) is None
    x1, y1, x2, y2 = detection_region(shape, [(300.0, 100.0, 360.0, 170.0)])
    assert x1 < 300 and y1 < 100 and x2 > 360 and y2 > 170 and x2 - x1 >= 160
    assert detection_region(shape, [(0.0, 0.0, 600.0, 400.0)]) is None  # most of the frame
