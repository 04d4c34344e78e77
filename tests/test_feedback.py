"""Feedback outputs: console line with time, masked log, pluggable outputs, failure isolation."""

from __future__ import annotations

import io
import logging

import pytest

from agent.core.feedback import ConsoleOutput, Feedback, LogOutput, MemoryOutput, mask_health
from agent.core.timeutil import ManualClock


def test_console_shows_time_station_and_text(morning):
    stream = io.StringIO()
    feedback = Feedback([ConsoleOutput(stream)], ManualClock(morning))
    feedback.say("张三 36.5 °C 合格 / OK", level="ok", station="mc-1")
    assert stream.getvalue() == "07:30:00 [mc-1] ✔ 张三 36.5 °C 合格 / OK\n"


def test_log_gets_the_masked_form(morning, caplog):
    caplog.set_level(logging.INFO, logger="agent.feedback")
    feedback = Feedback([LogOutput()], ManualClock(morning))
    feedback.say("张三 37.8 °C 温度异常，请复测", level="error", station="mc-1",
                 log_text="morning check staff=S001 fit=False")
    feedback.say("读数 36.5℃ 请复测", level="warn")  # no log_text: temperatures masked anyway
    assert "37.8" not in caplog.text and "张三" not in caplog.text and "36.5" not in caplog.text
    assert "feedback station=mc-1 level=error text=morning check staff=S001 fit=False" in caplog.text
    assert "读数 **.* °C 请复测" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]


def test_mask_health_keeps_weights_and_dates():
    assert mask_health("菜品 131 g 合格，留样至 12-02 12:00") == "菜品 131 g 合格，留样至 12-02 12:00"
    assert mask_health("36.5°C 37C 38,1 °C") == "**.* °C **.* °C **.* °C"


def test_a_failing_output_does_not_silence_the_others(morning, caplog):
    class Broken:
        name = "screen"

        def show(self, message):
            raise OSError("screen unplugged")

    memory = MemoryOutput()
    feedback = Feedback([Broken(), memory], ManualClock(morning))
    feedback.say("未登记的工卡", level="error", station="mc-1")
    assert memory.texts("mc-1") == ["未登记的工卡"]
    assert "feedback output failed output=screen" in caplog.text


def test_outputs_are_pluggable_and_levels_checked(morning):
    feedback = Feedback([], ManualClock(morning))
    memory = MemoryOutput(keep=2)
    feedback.add_output(memory)
    for text in ("a", "b", "c"):
        feedback.say(text)
    assert memory.texts() == ["b", "c"]
    assert memory.wait_for(lambda m: m.text == "c", timeout_s=0.1).level == "info"
    with pytest.raises(ValueError):
        feedback.say("x", level="loud")
