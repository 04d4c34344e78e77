"""MANSCDP bodies (GB/T 28181 XML): read hostile input safely, write the device's answers.

Reading uses the standard library's expat with every door shut: a size bound, no document
type declaration at all (so no entity is ever declared, let alone expanded), a depth bound
checked while parsing, and the body decoded first by its declared charset (GB2312/GBK or
UTF-8: expat knows neither GB charset).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

MAX_BODY = 64 * 1024
MAX_DEPTH = 12
MAX_ELEMENTS = 2000
_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.-]{1,32})[\"'][^>]*\?>", re.IGNORECASE)
_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_GB_CHARSETS = {"gb2312", "gbk", "gb18030", "gb_2312-80", "euc-cn"}


class BodyError(ValueError):
    """A body the device will not read (the message is answered 400)."""


@dataclass(frozen=True)
class Command:
    """One MANSCDP message: its root (Query, Control, Notify, Response), type and fields."""

    root: str
    cmd_type: str
    sn: str
    device_id: str
    element: ET.Element

    def text(self, path: str, default: str = "") -> str:
        found = self.element.find(path)
        return (found.text or "").strip() if found is not None and found.text else default


def decode_body(body: bytes) -> str:
    """The body as text, by its declared charset (GB2312 and its supersets, or UTF-8)."""
    if len(body) > MAX_BODY:
        raise BodyError(f"body of {len(body)} bytes is larger than {MAX_BODY}")
    match = _DECL.match(body)
    charset = match.group(1).decode("ascii").lower() if match else "utf-8"
    order = ["gb18030", "utf-8"] if charset in _GB_CHARSETS else ["utf-8", "gb18030"]
    for codec in order:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    raise BodyError("body is neither UTF-8 nor GB2312/GB18030 text")


def parse_xml(body: bytes) -> ET.Element:
    text = _DECL_TEXT.sub("", decode_body(body), count=1)
    if "<!" in text.replace("<![CDATA[", ""):
        raise BodyError("document type declarations and entity definitions are refused")
    parser: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start", "end"))
    depth = elements = 0
    root: ET.Element | None = None
    try:
        parser.feed(text)
        parser.close()
        for item in parser.read_events():
            event, element = tuple(item)[:2]
            if event == "start" and isinstance(element, ET.Element):
                depth += 1
                elements += 1
                if depth > MAX_DEPTH or elements > MAX_ELEMENTS:
                    raise BodyError("XML nested too deep or too many elements")
                if root is None:
                    root = element
            else:
                depth -= 1
    except ET.ParseError as exc:
        raise BodyError(f"malformed XML: {exc}") from None
    if root is None:
        raise BodyError("empty XML")
    return root


def parse_command(body: bytes) -> Command:
    root = parse_xml(body)
    if root.tag not in ("Query", "Control", "Notify", "Response"):
        raise BodyError(f"unknown MANSCDP root <{root.tag[:32]}>")
    cmd = Command(root.tag, "", "", "", root)
    cmd_type, sn, device = cmd.text("CmdType"), cmd.text("SN"), cmd.text("DeviceID")
    if not cmd_type or not re.fullmatch(r"[A-Za-z]{1,32}", cmd_type):
        raise BodyError("missing or bad CmdType")
    if not re.fullmatch(r"[0-9]{1,10}", sn):
        raise BodyError("missing or bad SN")
    return Command(root.tag, cmd_type, sn, device[:64], root)


def _fields(values: dict[str, object]) -> str:
    return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items())


def document(root: str, cmd_type: str, sn: str | int, device_id: str, inner: str = "") -> bytes:
    """A MANSCDP body, declared and encoded GB2312 (what the platforms expect)."""
    text = (f'<?xml version="1.0" encoding="GB2312"?>\r\n<{root}>\r\n<CmdType>{cmd_type}</CmdType>\r\n'
            f"<SN>{escape(str(sn))}</SN>\r\n<DeviceID>{escape(device_id)}</DeviceID>\r\n{inner}</{root}>\r\n")
    return text.encode("gb18030", errors="replace")


@dataclass(frozen=True)
class Channel:
    channel_id: str
    camera: str
    online: bool


def keepalive(sn: int, device_id: str) -> bytes:
    return document("Notify", "Keepalive", sn, device_id, "<Status>OK</Status>\r\n")


def catalog(sn: str, device_id: str, civil_code: str, channels: list[Channel]) -> bytes:
    items = "".join(
        "<Item>" + _fields({"DeviceID": c.channel_id, "Name": c.camera, "Manufacturer": "canteen-agent",
                            "Model": "IPC", "Owner": "school", "CivilCode": civil_code, "Address": c.camera,
                            "Parental": 0, "ParentID": device_id, "SafetyWay": 0, "RegisterWay": 1,
                            "Secrecy": 0, "Status": "ON" if c.online else "OFF"}) + "</Item>\r\n"
        for c in channels)
    inner = f"<SumNum>{len(channels)}</SumNum>\r\n<DeviceList Num=\"{len(channels)}\">\r\n{items}</DeviceList>\r\n"
    return document("Response", "Catalog", sn, device_id, inner)


def device_info(sn: str, device_id: str, name: str, firmware: str, channels: int) -> bytes:
    return document("Response", "DeviceInfo", sn, device_id, _fields({
        "Result": "OK", "DeviceName": name, "Manufacturer": "canteen-agent", "Model": "canteen-agent",
        "Firmware": firmware, "Channel": channels}) + "\r\n")


def device_status(sn: str, device_id: str, online: bool, now_text: str) -> bytes:
    return document("Response", "DeviceStatus", sn, device_id, _fields({
        "Result": "OK", "Online": "ONLINE" if online else "OFFLINE", "Status": "OK", "Encode": "ON",
        "Record": "ON", "DeviceTime": now_text}) + "<Alarmstatus Num=\"0\"></Alarmstatus>\r\n")


def config_download(sn: str, device_id: str, name: str, register_s: int, keepalive_s: float,
                    misses: int) -> bytes:
    basic = _fields({"Name": name, "DeviceID": device_id, "SIPServerID": "", "Expiration": register_s,
                     "HeartBeatInterval": int(keepalive_s), "HeartBeatCount": misses})
    return document("Response", "ConfigDownload", sn, device_id, f"<Result>OK</Result><BasicParam>{basic}"
                                                                 "</BasicParam>\r\n")


def record_info(sn: str, channel_id: str, name: str, ranges: list[tuple[str, str]]) -> bytes:
    items = "".join("<Item>" + _fields({"DeviceID": channel_id, "Name": name, "FilePath": channel_id,
                                        "Address": name, "StartTime": start, "EndTime": end, "Secrecy": 0,
                                        "Type": "time"}) + "</Item>\r\n" for start, end in ranges)
    inner = (f"<Name>{escape(name)}</Name>\r\n<SumNum>{len(ranges)}</SumNum>\r\n"
             f"<RecordList Num=\"{len(ranges)}\">\r\n{items}</RecordList>\r\n")
    return document("Response", "RecordInfo", sn, channel_id, inner)


def alarm(sn: int, channel_id: str, *, priority: int, method: int, alarm_type: int, time_text: str,
          description: str) -> bytes:
    """An alarm notification (GB/T 28181 A.2.5: method 5 video alarm, 2 device alarm)."""
    inner = _fields({"AlarmPriority": priority, "AlarmMethod": method, "AlarmTime": time_text,
                     "AlarmDescription": description[:200]}) + f"<Info><AlarmType>{alarm_type}</AlarmType></Info>\r\n"
    return document("Notify", "Alarm", sn, channel_id, inner)


def media_status(sn: int, device_id: str) -> bytes:
    """Playback or download of a range finished (NotifyType 121)."""
    return document("Notify", "MediaStatus", sn, device_id, "<NotifyType>121</NotifyType>\r\n")
