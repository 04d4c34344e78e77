"""What each alarm kind is called, Chinese first then English, as the stations show it.

Workflows write their alarm message in English with the figures; ``bilingual`` puts
the kind's Chinese title in front, so every alarm (stored, sent, printed by ``status``)
reads Chinese first. Kinds not listed keep their English message and their kind name.
The duties a station kind adds carry their own titles (``agent/stations/<kind>/due.py``;
``agent.stations.registry.ALARM_TITLES`` is every title) and their reminders are
written bilingual already.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

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
    "sample_discard_due": ("留样到期待处理", "samples due for discard"),
    "disinfection_missing": ("餐具消毒未完成", "tableware disinfection missing"),
    "uv_run_missing": ("紫外线消毒未完成", "UV run missing"),
}


def title(kind: str, titles: Mapping[str, tuple[str, str]] = TITLES) -> str:
    """``发热 fever`` for a known kind, the kind itself otherwise."""
    zh, en = titles.get(kind, ("", kind))
    return f"{zh} {en}".strip()


def _has_chinese(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def bilingual(kind: str, message: str) -> str:
    """The message with the kind's Chinese title first, unless it already has Chinese."""
    zh = TITLES.get(kind, ("", ""))[0]
    if not zh or _has_chinese(message):
        return message
    return f"{zh}：{message}"
