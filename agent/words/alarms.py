"""What each alarm kind is called, Chinese first then English, and how it ends.

Workflows write their alarm message with the figures; ``bilingual`` puts the kind's
Chinese title in front of a message that has no Chinese, so every alarm (stored, sent,
printed by ``status``) reads Chinese first. A kind not listed keeps its message and is
called by its kind name (a test walks the pages for such names).

How an alarm ends (docs/PLATFORM.md "Alarm life cycle"): most alarms stand for a
*condition* (a device offline, a fridge too warm, a duty overdue) and clear only when
that condition clears; a person's 整改 on one is recorded and linked but does not end
it, and the alarm comes back if the condition returns. An *event* alarm (a fever at
the morning check) has no condition that could clear it: only a person's 整改 closes it.
"""

from __future__ import annotations

import unicodedata

from agent.words.terms import Term

TITLES: dict[str, tuple[str, str]] = {
    "fever": ("发热", "fever"),
    "cold_chain_high": ("冷链温度过高", "cold chain too warm"),
    "cold_chain_low": ("冷链温度过低", "cold chain too cold"),
    "device_offline": ("设备离线", "device offline"),
    "camera_offline": ("摄像头离线", "camera offline"),
    "disinfection_failed": ("消毒不合格", "disinfection failed"),
    "no_mask": ("未戴口罩", "no mask"),
    "no_hat": ("未戴厨师帽", "no chef hat"),
    "disk_budget": ("存储空间已满", "disk budget reached"),
    "storage_failed": ("数据未能保存", "storage failed"),
    "vision_unavailable": ("视觉识别不可用", "vision unavailable"),
    "health_certificate_expired": ("健康证过期", "health certificate expired"),
    "supplier_licence_expired": ("供应商许可证过期", "supplier licence expired"),
    "expiry_warning": ("临期提醒", "expiry warning"),
    "morning_check_missing": ("晨检未完成", "morning check missing"),
    "samples_missing": ("留样未完成", "samples missing"),
    "sample_discard_due": ("留样到期待处理", "samples due for discard"),
    "disinfection_missing": ("餐具消毒未完成", "tableware disinfection missing"),
    "uv_run_missing": ("紫外线消毒未完成", "UV run missing"),
    "leader_meal_missing": ("陪餐未登记", "leader meal missing"),
    "clock_unsynced": ("时钟未同步", "clock not synchronised"),
    "config_rolled_back": ("新配置已回退", "new config rolled back"),
    "video_unavailable": ("视频录像不可用", "video unavailable"),
    "update_rolled_back": ("远程升级已回退", "remote update rolled back"),
    "rectification_overdue": ("整改逾期", "rectification overdue"),
    "drill_missing": ("应急演练未开展", "no drill held"),
}

# closed only by a person's 整改 (rectification); every other kind by its condition
RECTIFIED_BY_PERSON = frozenset({"fever"})


def closes_by_rectification(kind: str) -> bool:
    """True for an event alarm (a 整改 closes it), False for a condition alarm."""
    return kind in RECTIFIED_BY_PERSON


def kind_term(kind: str) -> Term:
    """The kind's title as a ``Term`` (the kind name itself when it has none)."""
    zh, en = TITLES.get(kind, (kind, ""))
    return Term(zh, en)


def title(kind: str) -> str:
    """``发热 fever`` for a known kind, the kind itself otherwise."""
    zh, en = TITLES.get(kind, ("", kind))
    return f"{zh} {en}".strip()


def _has_chinese(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def bilingual(kind: str, message: str) -> str:
    """The message with the kind's Chinese title first, unless it already has Chinese."""
    zh = TITLES.get(kind, ("", ""))[0]
    if not zh or _has_chinese(message):
        return message
    return f"{zh}：{message}"
