"""What people read instead of the agent's identifiers: Chinese first, then English.

A cook or a manager never reads ``store_room``, ``disconnected`` or ``[Errno 2] could not
open port``. Every identifier that reaches a station screen, a console page or a CLI
answer goes through one of the tables here (meals, rooms, device roles, kinds and
states, the reasons a device is down, alarm states, verdicts, outbox classes, cleaning
methods) or through the words that live with their kind: alarm kinds in
``agent.words.alarms``, record types on each record type (``agent/records/``), findings
next to the rules that make them (``agent.records.findings``). Page furniture ("Log out",
"Acknowledge") is in the console's gettext catalog (``agent.console.i18n``).

A ``Term`` prints as ``中文 English``; ``term(table, key)`` falls back to the key itself
for a value a site chose (a room called ``二楼库房`` is already a name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    """One thing's name in both languages."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} {self.en}".strip()

    def slash(self) -> str:
        """``中文 / English``: the form the stations and alarm messages use."""
        return f"{self.zh} / {self.en}" if self.zh and self.en else self.zh or self.en


def term(table: Mapping[str, Term], key: str | None) -> Term:
    """The key's term; a key the table does not know is shown as it is (a site's own name)."""
    if key is None:
        return Term("", "")
    return table.get(key) or Term(key, "")


MEALS: dict[str, Term] = {
    "breakfast": Term("早餐", "breakfast"),
    "lunch": Term("午餐", "lunch"),
    "dinner": Term("晚餐", "dinner"),
    "snack": Term("加餐", "snack"),
}

# Rooms are named by the installer (``uv_rooms``, Modbus ``room``); common ids have words.
ROOMS: dict[str, Term] = {
    "kitchen": Term("厨房", "kitchen"),
    "store_room": Term("库房", "store room"),
    "storeroom": Term("库房", "store room"),
    "cold_store": Term("冷库", "cold store"),
    "cold_room": Term("冷库", "cold room"),
    "sample_fridge": Term("留样柜", "sample fridge"),
    "dining_hall": Term("餐厅", "dining hall"),
    "dining_room": Term("餐厅", "dining room"),
    "prep_room": Term("备餐间", "preparation room"),
    "cutting_room": Term("切配间", "cutting room"),
    "washing_room": Term("洗消间", "washing room"),
    "scullery": Term("洗消间", "scullery"),
    "pantry": Term("储藏间", "pantry"),
    "changing_room": Term("更衣室", "changing room"),
}

# A station kind's name and its devices' roles live with the kind (agent/stations/<kind>/).

# the config's device kinds and the Modbus roles
DEVICE_KINDS: dict[str, Term] = {
    "badge_reader": Term("刷卡器", "badge reader"),
    "ir_thermometer": Term("额温仪", "forehead thermometer"),
    "scale": Term("电子秤", "scale"),
    "barcode_reader": Term("键盘/扫码枪", "keypad or barcode reader"),
    "core_probe": Term("中心温度计", "core-temperature probe"),
    "modbus": Term("Modbus 设备", "Modbus device"),
    "camera": Term("摄像头", "camera"),
    "fridge": Term("冷藏温度探头", "fridge probe"),
    "freezer": Term("冷冻温度探头", "freezer probe"),
    "cabinet": Term("消毒柜温度探头", "cabinet probe"),
    "uv_lamp": Term("紫外线灯", "UV lamp"),
    "ozone": Term("臭氧发生器", "ozone generator"),
}

DEVICE_STATES: dict[str, Term] = {
    "ok": Term("正常", "OK"),
    "starting": Term("正在连接", "connecting"),
    "silent": Term("无数据", "no data"),
    "disconnected": Term("未连接", "not connected"),
    "offline": Term("离线", "offline"),
    "disabled": Term("未启用", "disabled"),
}

# drivers.readings.DownReason: why a device is down, in words for people (the raw detail
# of the driver stays in the log and on the installer's pages)
DOWN_REASONS: dict[str, Term] = {
    "port_open_failed": Term("串口打不开", "serial port cannot be opened"),
    "port_lost": Term("串口连接断开", "serial connection lost"),
    "no_data": Term("设备没有数据", "no data from the device"),
    "no_answer": Term("设备无应答", "the device does not answer"),
    "link_down": Term("总线或网关连不上", "bus or gateway unreachable"),
    "no_picture": Term("摄像头没有画面", "no picture from the camera"),
}

# an alarm's life: raised -> acknowledged -> cleared (by its condition) / rectified (整改)
ALARM_STATES: dict[str, Term] = {
    "open": Term("未处理", "Open"),
    "acknowledged": Term("已确认", "Acknowledged"),
    "cleared": Term("已恢复", "Cleared by itself"),
    "rectified": Term("已整改", "Rectified"),
}

SEVERITIES: dict[str, Term] = {
    "critical": Term("紧急", "critical"),
    "major": Term("重要", "major"),
    "minor": Term("一般", "minor"),
    "info": Term("提示", "info"),
}

VERDICTS: dict[str, Term] = {
    "pass": Term("合格", "pass"),
    "fail": Term("不合格", "fail"),
    "warn": Term("注意", "check"),
}

OUTBOX_CLASSES: dict[str, Term] = {
    "urgent": Term("突发事件", "incidents"),
    "alarm": Term("告警", "alarms"),
    "health": Term("晨检", "health checks"),
    "record": Term("记录", "records"),
    "media": Term("照片视频", "media"),
    "telemetry": Term("传感器数据", "telemetry"),
}

DISINFECTION_METHODS: dict[str, Term] = {
    "infrared_cabinet": Term("红外消毒柜", "infrared cabinet"),
    "steam": Term("蒸汽", "steam"),
    "boiling": Term("煮沸", "boiling"),
    "dishwasher_rinse": Term("洗碗机", "dishwasher rinse"),
    "chlorine": Term("含氯消毒液", "chlorine"),
    "uv_lamp": Term("紫外线灯", "UV lamp"),
    "ozone": Term("臭氧", "ozone"),
    "spray": Term("喷洒", "spraying"),
    "wipe": Term("擦拭", "wiping"),
}

WASTE_KINDS: dict[str, Term] = {
    "kitchen_waste": Term("餐厨垃圾", "kitchen waste"),
    "waste_oil": Term("废弃油脂", "waste oil"),
    "other": Term("其他", "other"),
}

YES_NO = {True: Term("是", "yes"), False: Term("否", "no")}

# the agent's own parts that alarms and records name as their ``device_id`` (no device of the kitchen)
AGENT_PARTS: dict[str, Term] = {
    "clock": Term("系统时钟", "system clock"),
    "store": Term("数据存储", "storage"),
    "vision": Term("视觉识别", "vision"),
    "video": Term("视频录像", "video recording"),
    "config": Term("配置", "configuration"),
    "schedule": Term("日程提醒", "reminders"),
    "console": Term("控制台", "kitchen console"),
    "cli": Term("命令行", "command line"),
}


# subject keys that name a record (a failed cycle's id): what the alarm is about is its device
RECORD_KEYS = frozenset({"cycle_id", "record_id", "task_id"})


def device_name(device_id: str) -> str:
    """A device as people read it: its id (the name on its label), or one of the agent's parts."""
    part = AGENT_PARTS.get(device_id)
    return str(part) if part else device_id


def meal(key: str | None) -> Term:
    return term(MEALS, key)


def room(key: str | None) -> Term:
    return term(ROOMS, key)


def device_state(key: str | None) -> Term:
    return term(DEVICE_STATES, key)


def down_reason(key: str | None) -> Term:
    """Why a device is down; an unknown or empty reason says only that it is not working."""
    return DOWN_REASONS.get(key or "") or Term("设备不工作", "not working")
