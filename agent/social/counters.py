"""What the public listener refused, counted by reason for the installer's page (and the log)."""

from __future__ import annotations

import threading
from collections import Counter

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
}


class Refusals:
    """Thread-safe counts of refused public requests, by reason (since the agent started)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())
