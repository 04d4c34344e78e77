"""The door between the public side's process and the agent, with a real agent and store:
the agent checks what the child hands over again, as if it came from the street, and stores
only through its Recorder."""

from __future__ import annotations

import socket
import threading

from agent.app import Agent
from agent.core.recorder import Photo
from agent.core.timeutil import ManualClock
from agent.public.desk import serve_thread
from agent.public.door import Door
from agent.social.surveys import Surveys, parse_questions
from tests.conftest import make_config
from tests.fixtures_console import MORNING
from tests.test_public import jpeg


def test_the_agent_checks_what_the_public_process_hands_over_and_bounds_it(tmp_path):
    agent = Agent(make_config(tmp_path, public={"enabled": True, "port": 0, "complaints_per_minute": 2,
                                                "upload_max_kb": 16}), now=ManualClock(MORNING))
    try:
        assert agent.public.server is not None
        ours, theirs = socket.socketpair()
        ready = threading.Event()
        thread = serve_thread(agent.public.server.desk, ours, ready.set)
        door = Door(theirs)
        door.ready()
        assert ready.is_set() and door.now() == MORNING
        bad = [dict(category="nonsense", text="x"), dict(category="other", text=""),
               dict(category="other", text="x" * 1001), dict(category="other", text="<script>x</script>")]
        answers = [door.complaint(channel="qr", invite_id=None, photo=None, **kw) for kw in bad]
        assert answers == ["bad_form", "bad_form", "bad_form", "markup_in_text"]
        fake = Photo(b"GIF89a" + b"\0" * 100, "image/jpeg", ".jpg")
        big = Photo(b"\xff\xd8\xff" + b"\0" * 20_000, "image/jpeg", ".jpg")
        assert door.complaint(category="other", text="x", channel="qr", invite_id=None, photo=fake) == "photo_not_image"
        assert door.complaint(category="other", text="x", channel="qr", invite_id=None, photo=big) == "photo_too_large"
        # an invite id the agent does not know is not believed: the complaint is anonymous
        saved = door.complaint(category="hygiene", text="餐盘有油渍", channel="representative", invite_id="forged",
                               photo=Photo(jpeg(), "image/jpeg", ".jpg"))
        assert isinstance(saved, tuple)
        record = agent.store.get_record(saved[0])
        assert record is not None and record["data"]["channel"] == "qr" and record["data"]["invite_id"] is None
        assert len(agent.store.media_of_records([saved[0]])[saved[0]]) == 1
        assert isinstance(door.complaint(category="other", text="二", channel="qr", invite_id=None, photo=None), tuple)
        # the agent's own ceiling, whatever the child's limits let through
        assert door.complaint(category="other", text="三", channel="qr", invite_id=None, photo=None) == "complaints_total"
        assert sum(1 for _ in agent.store.iter_records(type_="public_complaint")) == 2
        survey = Surveys(agent.store).define("秋季", "2026秋", parse_questions("口味"), "boss", agent.now())
        assert door.survey_answer(survey.id, "device-1", {"q1": "9"}) == "bad_form"
        assert door.survey_answer(survey.id, "device-1", {"q1": "4"}) is None
        assert door.survey_answer(survey.id, "device-1", {"q1": "5"}) == "survey_repeat"
        assert door.survey_answer("nosuch", "device-2", {"q1": "4"}) == "bad_form"
        assert door.still("cam-1") is None  # not a public camera
        theirs.close()
        thread.join(10)
        assert not thread.is_alive()  # the child closed the door: the desk stops
    finally:
        agent.stop()
