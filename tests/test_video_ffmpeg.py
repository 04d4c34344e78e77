"""The FFmpeg supervisor: exit classification, back-off, a camera that is not there."""

from __future__ import annotations

import threading
import time

import pytest

from agent.redact import redact_text
from agent.video.ffmpeg import (
    SOURCE_LOST,
    TARGET_REFUSED,
    FfmpegJob,
    classify_exit,
    input_args,
)
from drivers.backoff import Backoff
from simulator.platform.broker import free_port


@pytest.mark.parametrize(("lines", "opened", "streamed", "state"), [
    (["rtsp://127.0.0.1:5/cam: Connection refused"], False, False, SOURCE_LOST),
    (["Input #0, rtsp, from 'x':", "[tcp @ 0x1] Connection to tcp://127.0.0.1:9 failed: Connection refused",
      "Error opening output rtmp://127.0.0.1:9/live/k1"], True, False, TARGET_REFUSED),
    (["Input #0, rtsp, from 'x':", "[flv @ 0x1] av_interleaved_write_frame(): Broken pipe"], True, True,
     TARGET_REFUSED),
    (["Input #0, rtsp, from 'x':", "[rtsp @ 0x1] RTP: PT=60: bad cseq", "rtsp://cam: End of file"], True, True,
     SOURCE_LOST),
])
def test_exit_is_blamed_on_the_side_that_failed(lines: list[str], opened: bool, streamed: bool, state: str) -> None:
    assert classify_exit(1, lines, opened, streamed, "127.0.0.1:9")[0] == state


def test_credentials_never_leave_in_details() -> None:
    assert redact_text("rtsp://admin:s3cret@10.0.0.5/stream1: Connection refused") == \
        "rtsp://***@10.0.0.5/stream1: Connection refused"
    assert "-timeout" in input_args("rtsp://cam/1", 5) and "-rw_timeout" in input_args("http://cam/1", 5)


def test_a_camera_that_is_not_there_is_source_lost_and_retried_with_back_off() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    states: list[tuple[str, str]] = []
    job = FfmpegJob("probe", lambda: [*input_args(url, 2), "-c", "copy", "-f", "null", "-"],
                    backoff=Backoff(0.2, 0.4), on_state=lambda state, detail: states.append((state, detail)))
    stop = threading.Event()
    thread = threading.Thread(target=job.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while job.restarts < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop_job()
    thread.join(10)
    lost = [detail for state, detail in states if state == SOURCE_LOST]
    assert job.restarts >= 2 and lost and "Connection refused" in lost[0]
    assert states[-1][0] == "stopped"
