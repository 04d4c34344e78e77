"""What the public side refused, counted by reason for the installer's page (and the log),
and how its process fares.

The public pages run in a process of their own (``agent.public.process``): the counts live
in a small shared memory block (a memfd the agent hands to each run of that process), so
the child counts a refusal in its own memory and the installer's page reads it at once,
without a message per refused request reaching the agent. Only the child writes them.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from dataclasses import dataclass

from agent.words.terms import Term

REASONS: dict[str, Term] = {
    "too_many_requests": Term("请求过于频繁", "too many requests from one address"),
    "busy": Term("服务繁忙", "all workers busy"),
    "complaints_per_address": Term("同一地址投诉过多", "too many complaints from one address"),
    "complaints_total": Term("投诉总量超限", "too many complaints from everyone"),
    "photo_too_large": Term("照片过大", "photo too large"),
    "photo_not_image": Term("照片不是图片", "photo not a JPEG or PNG"),
    "markup_in_text": Term("文本含网页代码", "markup or script in the text"),
    "bad_form": Term("表单不完整", "incomplete form"),
    "code_unknown": Term("邀请码错误", "wrong invite code"),
    "code_revoked": Term("邀请码已撤销", "revoked invite code"),
    "code_expired": Term("邀请码已过期", "expired invite code"),
    "code_attempts": Term("邀请码尝试过多", "too many invite code attempts"),
    "survey_repeat": Term("同一设备重复答卷", "second answer from one device"),
    "survey_per_address": Term("同一地址答卷过多", "too many answers from one address"),
    "survey_closed": Term("问卷已结束", "survey closed"),
    "receipt_unknown": Term("回执码错误", "unknown receipt code"),
    "csrf": Term("表单已过期", "expired form"),
    "live_full": Term("实时画面观看人数已满", "live view full"),
}
SLOT = 8  # bytes per count: an aligned 64-bit word is read whole


class Refusals:
    """Counts of refused public requests, by reason, since the agent started; shared with
    the public side's process through ``fd`` (``Refusals(fd)`` there)."""

    def __init__(self, fd: int | None = None) -> None:
        self._keys = list(REASONS)
        size = SLOT * len(self._keys)
        self.fd = os.memfd_create("public-refusals") if fd is None else fd
        if fd is None:
            os.ftruncate(self.fd, size)
            weakref.finalize(self, os.close, self.fd)  # an agent made and dropped (tests, a reload) keeps no fd
        self._map = mmap.mmap(self.fd, size)
        self._counts = memoryview(self._map).cast("Q")
        self._lock = threading.Lock()
        self.process = ProcessState()

    def count(self, reason: str) -> None:
        with self._lock:
            self._counts[self._keys.index(reason)] += 1

    def snapshot(self) -> dict[str, int]:
        return {k: int(n) for k, n in zip(self._keys, self._counts.tolist(), strict=True) if n}

    def total(self) -> int:
        return sum(self.snapshot().values())


PROCESS_WORDS: dict[str, Term] = {
    "off": Term("未运行", "not running"),
    "starting": Term("正在启动", "starting"),
    "running": Term("运行中", "running"),
    "restarting": Term("已停止，正在重新启动", "ended: starting it again"),
}


@dataclass
class ProcessState:
    """The public side's process as the installer's page shows it (set by the agent's supervisor of it)."""

    state: str = "off"  # off | starting | running | restarting
    restarts: int = 0
    pid: int | None = None
    last_end: Term | None = None  # how the last run ended, in words

    def ended(self, code: int | None) -> None:
        """The process ended by itself (``code``: its exit code; negative: the signal that killed it)."""
        if code is not None and code < 0:
            self.last_end = Term(f"上次被终止（信号 {-code}）", f"last run killed (signal {-code})")
        else:
            self.last_end = Term(f"上次异常退出（退出码 {code}）", f"last run ended on its own (exit code {code})")
        self._restarting()

    def could_not_listen(self, where: str, reason: str) -> None:
        self.last_end = Term(f"无法在 {where} 监听：{reason}", f"cannot listen on {where}: {reason}")
        self._restarting()

    def _restarting(self) -> None:
        self.state = "restarting"
        self.restarts += 1
        self.pid = None
