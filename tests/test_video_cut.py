"""Planning a cut: which segments, where to enter and leave, and the refusals' reasons."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.video.cut import RangeUnavailable, concat_list, plan_cut
from agent.video.ring import Segment

T0 = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)


def seg(start_s: float, seconds: float = 60.0) -> Segment:
    start = T0 + timedelta(seconds=start_s)
    return Segment("k1", Path(f"/v/k1/{start:%Y%m%dT%H%M%S}Z.mp4"), start, start + timedelta(seconds=seconds), 6000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_range_over_three_segments_enters_the_first_and_leaves_the_last() -> None:
    plan = plan_cut("k1", [seg(0), seg(60), seg(120), seg(180)], at(30), at(150))
    assert [p.segment.start for p in plan.pieces] == [at(0), at(60), at(120)]
    assert (plan.pieces[0].inpoint_s, plan.pieces[0].outpoint_s) == (30.0, None)
    assert (plan.pieces[1].inpoint_s, plan.pieces[1].outpoint_s) == (None, None)
    assert (plan.pieces[2].inpoint_s, plan.pieces[2].outpoint_s) == (None, 30.0)
    assert plan.seconds == 120 and plan.gaps == []
    assert plan.estimated_bytes == 6000 // 2 + 6000 + 6000 // 2
    assert concat_list(plan).splitlines()[1:4] == ["file '/v/k1/20261201T030000Z.mp4'", "inpoint 30.000",
                                                   "file '/v/k1/20261201T030100Z.mp4'"]


def test_the_newest_segment_is_left_at_to_even_past_its_last_write_so_far() -> None:
    # it may gain a fragment while FFmpeg cuts: without an outpoint the clip would end late
    plan = plan_cut("k1", [seg(0), seg(60)], at(30), at(125))
    assert [(p.inpoint_s, p.outpoint_s) for p in plan.pieces] == [(30.0, None), (None, 65.0)]
    assert plan.covered_to == at(120)


def test_a_camera_outage_inside_the_range_is_reported_as_a_gap() -> None:
    plan = plan_cut("k1", [seg(0), seg(200)], at(30), at(230))
    assert plan.gaps == [(at(60), at(200))]
    assert (plan.covered_from, plan.covered_to) == (at(30), at(230))


@pytest.mark.parametrize(("start", "end", "reason"), [
    (-600, -500, "range gone: the recordings of camera 'k1' start at 2026-12-01T03:00:00+00:00"),
    (300, 360, "not recorded: camera 'k1' has video only until"),
    (70, 190, "not recorded: camera 'k1' has no video between"),
])
def test_unavailable_ranges_are_refused_with_the_reason(start: float, end: float, reason: str) -> None:
    with pytest.raises(RangeUnavailable, match=re.escape(reason)):
        plan_cut("k1", [seg(0), seg(200)], at(start), at(end))


def test_no_recording_at_all() -> None:
    with pytest.raises(RangeUnavailable, match="no recording for camera 'k1'"):
        plan_cut("k1", [], at(0), at(10))
