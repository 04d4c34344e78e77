"""The agent's configuration: one YAML file, validated by pydantic.

Unknown keys are errors (a typo must not pass silently). Every value can be
overridden from the environment with ``CANTEEN__SECTION__KEY=value`` (values parse
as YAML scalars, list items by index: ``CANTEEN__DEVICES__0__PORT``), and secrets
come from files (``password_file``, ``*_file``) so one config serves a fleet.

Every number from docs/DOMAIN.md lives here as a default, never as a constant in code.
"""

from __future__ import annotations

import binascii
import difflib
import ssl
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
)

from agent.config_devices import CameraConfig, DeviceConfig, ModbusBusConfig
from agent.modbus_roles import check_points, roles_of
from drivers.config_types import (
    FINITE,
    Celsius,
    CelsiusRange,
    Count,
    Days,
    Megabytes,
    Minutes,
    MqttKeepalive,
    MqttReceiveMaximum,
    MqttSessionExpiry,
    Port,
    PositiveDays,
    PositiveHours,
    PositiveMinutes,
    PositiveSeconds,
    Seconds,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, **FINITE)


# --- identity, broker, store ---------------------------------------------------------


class Identity(Strict):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                          description="Unique id of this box; also its MQTT client id.")
    school_id: str = Field(min_length=1, description="School code on the platform.")
    canteen_id: str = Field(min_length=1, description="Canteen (kitchen) id within the school.")
    timezone: str = Field("Asia/Shanghai", description="IANA zone for local times and schedules.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TlsConfig(Strict):
    ca_file: FilePath | None = Field(None, description="CA bundle that signed the broker's certificate.")
    cert_file: FilePath | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: FilePath | None = Field(None, description="Client private key (mutual TLS).")
    server_name: str | None = Field(None, description="Expected name in the broker certificate, if not the host.")

    @model_validator(mode="after")
    def _files_load(self) -> TlsConfig:
        """The uplink builds its TLS context from these files at every connect: a file
        that exists but is no CA bundle or key would fail there, so load them here."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.ca_file))
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"ca_file {self.ca_file} is not a readable PEM CA bundle ({exc})") from None
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file (mutual TLS uses both)")
        if self.cert_file is not None:
            try:
                context.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"cert_file/key_file do not load as a certificate and its key ({exc})") from None
        return self


class BrokerConfig(Strict):
    host: str = Field("127.0.0.1", description="MQTT broker host.")
    port: Port = 1883
    protocol: Literal["mqtt5", "mqtt311", "auto"] = Field(
        "auto", description="auto tries MQTT 5 and falls back to 3.1.1.")
    topic_prefix: str = Field("scfs/v1", description="Topics are <prefix>/<agent_id>/...")
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="Read the password from this file.")
    tls: TlsConfig | None = Field(None, description="TLS settings; required off loopback.")
    allow_plaintext_remote: bool = Field(
        False, description="Permit plaintext to a non-loopback broker (logged at every connect).")
    keepalive_s: MqttKeepalive = Field(30, ge=5, le=3600)
    session_expiry_s: MqttSessionExpiry = Field(
        7 * 86400, ge=86400, description="Persistent session lifetime (>= 1 day, MQTT's 32-bit limit at most).")
    ack_mode: Literal["platform", "puback"] = Field(
        "platform", description="platform: items leave the outbox on <root>/ack; puback: on broker PUBACK.")
    inflight_max: MqttReceiveMaximum = Field(64, description="Publishes awaiting PUBACK at once (capped by the broker's receive maximum).")
    ack_timeout_s: PositiveSeconds = Field(60, description="Resend an item the platform has not acked in this time.")
    resend_max_s: float = Field(
        3600, gt=0, le=7 * 86400,
        description="Each resend of an unacked item doubles its wait (from ack_timeout_s) up to this.")
    resend_max_bytes_per_min: int = Field(
        256 * 1024, ge=1024, le=1024 ** 3,
        description="Bytes of resends (items the platform has not acked) allowed per minute.")
    reconnect_min_s: PositiveSeconds = 1.0
    reconnect_max_s: PositiveSeconds = 60.0
    status_interval_s: PositiveSeconds = Field(60.0, description="Retained status refresh period.")
    platform_public_key: str | None = Field(
        None, description="Ed25519 public key (base64 raw or PEM) that signs platform commands.")
    platform_public_key_file: Path | None = None
    config_trial_s: float = Field(
        120, ge=1, le=3600,
        description="A config from set_config is rolled back unless the agent reaches the broker with it this soon.")
    command_max_validity_s: float = Field(
        3600, gt=0, le=7 * 86400,
        description="A command valid longer than this (expires_at - issued_at) is refused.")
    command_clock_skew_s: float = Field(
        300, ge=0, le=86400, description="A command issued further than this in our future is refused.")

    @model_validator(mode="after")
    def _secrets_from_files(self) -> BrokerConfig:
        if self.password_file is not None:
            self.password = SecretStr(_read_secret(self.password_file))
        if self.platform_public_key_file is not None:
            self.platform_public_key = _read_secret(self.platform_public_key_file)
        if self.platform_public_key:
            _check_public_key(self.platform_public_key)
        return self


class StoreConfig(Strict):
    path: Path = Field(Path("/var/lib/canteen-agent/agent.db"), description="SQLite database file.")
    media_dir: Path = Field(Path("/var/lib/canteen-agent/media"), description="Snapshots and clips.")
    disk_budget_mb: Megabytes = Field(2048, description="Database plus media may use this much.")
    retention_days: PositiveDays = Field(730, description="Delivered records are kept this long (2 years).")
    purchase_retention_days_past_expiry: Days = Field(
        183, description="Purchase records: at least 6 months past the product's expiry.")
    telemetry_keep_days: PositiveDays = Field(30, description="Downsampled telemetry kept locally.")
    group_commit_max: Count = Field(512, le=100_000, description="Most adds committed in one transaction.")


# --- rules: every figure in docs/DOMAIN.md ---------------------------------------------------


class MorningCheckRules(Strict):
    normal_range_c: CelsiusRange = Field((35.9, 37.3), description="Normal body temperature, inclusive.")
    temperature_window_s: PositiveSeconds = Field(30, description="After a badge, wait this long for a temperature.")
    expired_certificate_verdict: Literal["fail", "warn"] = "fail"
    hand_findings_fail: list[str] = Field(["wound", "nail_fungus"], description="Hand findings that exclude from duty.")
    hand_findings_warn: list[str] = Field(["foreign_object", "plaster", "ring", "nail_polish"])
    excluding_symptoms: list[str] = Field(
        ["fever", "diarrhoea", "vomiting", "throat_inflammation", "jaundice", "skin_infection"])


class FoodSampleRules(Strict):
    min_grams: float = Field(125, gt=0, le=100_000, description="Minimum grams per dish (some local rules: 150 or 200).")
    keep_hours: PositiveHours = Field(48, description="Samples are kept at least this long.")


class ColdChainRules(Strict):
    fridge_range_c: CelsiusRange = Field((0.0, 8.0), description="Refrigerated range.")
    freezer_max_c: Celsius = Field(-12.0, description="Frozen: below this.")
    grace_minutes: Minutes = Field(20, description="Out of range this long before an alarm (door openings).")
    probe_silent_minutes: PositiveMinutes = Field(5, description="A probe silent this long raises its own alarm.")
    telemetry_downsample_s: PositiveSeconds = Field(60, description="One stored sample per device per period.")


class ThermalMethod(Strict):
    target_c: Celsius
    hold_s: PositiveSeconds = Field( description="Seconds at or above target.")


def _default_methods() -> dict[str, ThermalMethod]:
    return {
        "infrared_cabinet": ThermalMethod(target_c=120, hold_s=600),
        "steam": ThermalMethod(target_c=100, hold_s=600),
        "boiling": ThermalMethod(target_c=100, hold_s=600),
        "dishwasher_rinse": ThermalMethod(target_c=85, hold_s=40),
    }


class DisinfectionRules(Strict):
    methods: dict[str, ThermalMethod] = Field(default_factory=_default_methods)
    chlorine_mg_per_l: float = Field(250, gt=0)
    chlorine_immersion_min: PositiveMinutes = 5
    cycle_start_rise_c: float = Field(15, gt=0, description="A cycle starts this far above ambient.")


class PremisesRules(Strict):
    uv_min_minutes: PositiveMinutes = 30
    ozone_min_minutes: PositiveMinutes = 30


class ReceivingRules(Strict):
    near_expiry_days: Days = Field(3, description="Warn when goods arrive this close to expiry.")


class ExpiryRules(Strict):
    warn_days: list[Days] = Field([30, 7, 1], description="Warn this many days before expiry.")
    ingredient_expired_watch_days: Days = Field(
        3, description="An expired ingredient stays flagged this many days (stock may remain).")


class Rules(Strict):
    morning_check: MorningCheckRules = MorningCheckRules()
    food_sample: FoodSampleRules = FoodSampleRules()
    cold_chain: ColdChainRules = ColdChainRules()
    disinfection: DisinfectionRules = DisinfectionRules()
    premises: PremisesRules = PremisesRules()
    receiving: ReceivingRules = ReceivingRules()
    expiry: ExpiryRules = ExpiryRules()
    additive_limits_g: dict[str, float] = Field(
        default_factory=dict, description="Max grams per use for additives with a usage limit.")


# --- schedules ---------------------------------------------------------------------------


class MealWindow(Strict):
    start: time
    end: time
    sample_deadline: time | None = Field(None, description="All dishes sampled by then (default: end).")
    disinfection_deadline_min: PositiveMinutes = Field(120, description="Tableware disinfected within this after end.")
    weekdays: list[Literal[1, 2, 3, 4, 5, 6, 7]] = Field(
        [1, 2, 3, 4, 5, 6, 7], description="ISO weekdays served (1 = Monday); a day with no meal has no duties.")


def _default_meals() -> dict[str, MealWindow]:
    return {
        "breakfast": MealWindow(start=time(7, 0), end=time(8, 30)),
        "lunch": MealWindow(start=time(11, 30), end=time(13, 0)),
        "dinner": MealWindow(start=time(17, 0), end=time(18, 30)),
    }


class Schedules(Strict):
    morning_check_deadline: time = Field(time(9, 30), description="Everyone on today's roster checked by then.")
    meals: dict[str, MealWindow] = Field(default_factory=_default_meals)
    uv_rooms: list[str] = Field(default_factory=list, description="Rooms that need a UV/ozone run daily.")
    uv_deadline: time = time(21, 0)
    day_end: time = Field(time(23, 55), description="When the daily ledger is written.")
    missed_job_grace_s: int = Field(3600, ge=0, le=7 * 86400, description="After a power cut, missed jobs run within this.")


class MenuDish(Strict):
    name: str
    meals: list[str] = Field(default_factory=list, description="Meals serving it; empty = every meal.")


class StaffMember(Strict):
    staff_id: str
    name: str
    badges: list[str] = Field(default_factory=list)
    role: str = "cook"
    health_cert_expires_on: str | None = Field(None, description="YYYY-MM-DD.")
    on_duty: bool = True


class SiteConfig(Strict):
    """Site data the platform can also push (roster, menu)."""

    staff: list[StaffMember] = Field(default_factory=list)
    menu: list[MenuDish] = Field(default_factory=list)
    suppliers: dict[str, str] = Field(default_factory=dict, description="Supplier -> licence expiry date.")


class LoggingConfig(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field("text", description="json: one object per line (log shippers).")


class VisionConfig(Strict):
    enabled: bool = True
    models_dir: Path | None = Field(None, description="Where manifest.json lives (default: the package's).")
    site_dir: Path = Field(Path("/var/lib/canteen-agent/vision"), description="Per-site enrolment (chef hats).")
    threads: int = Field(1, ge=1, le=8, description="onnxruntime intra-op threads per model.")
    persist_s: PositiveSeconds = Field(5.0, description="A violation must persist this long.")
    clear_s: PositiveSeconds = Field(3.0, description="Compliant this long clears it.")
    pre_roll_s: float = Field(3.0, ge=0, le=60)
    post_roll_s: float = Field(3.0, ge=0, le=60)
    blur_other_faces: bool = True
    mask_threshold: float = Field(
        0.5, gt=0, lt=1, description="P(mask violation: none, or worn under the nose) above this is a violation "
                                     "(the model is calibrated so that 0.5 is the operating point chosen on val).")
    face_score_min: float = Field(0.8, gt=0, lt=1)
    detect_upscale: float = Field(
        2.0, ge=0.5, le=4, description="Frames (or moving regions) are enlarged this much before face detection "
                                       "(the detector misses most faces under 32 px at their own size).")
    detect_max_side: int = Field(
        960, ge=160, le=4096, description="...but the detector's input never exceeds this long side (CPU bound).")
    keep_min_face_px: int = Field(
        20, ge=1, description="Detections smaller than this are dropped: too far to judge, mostly clutter "
                              "or faces far in the background.")
    recheck_score_min: float = Field(
        0.3, gt=0, lt=1, description="A small face the detector scores from this up to face_score_min is looked "
                                     "at again on an enlarged crop around it (a second pass), and kept if that "
                                     "pass scores it at least face_score_min; set it to face_score_min to turn "
                                     "the second pass off.")
    recheck_max_px: int = Field(
        48, ge=8, le=4096, description="Only faces smaller than this (short side) get the second pass.")
    verify_faces: bool = Field(
        True, description="Drop detections the mask classifier takes for something else than a face "
                          "(it runs on every face anyway, so this costs nothing).")
    inference_slots: int = Field(
        1, ge=1, le=8, description="How many model inferences the cameras may run at once (each on `threads` "
                                   "cores). One core runs about 5 cameras at 2 analysed fps; 2 uses both cores "
                                   "of a small box but costs about 50 MB more once (onnxruntime's arenas per run).")
    hat_threshold: float = Field(0.5, gt=0, lt=1, description="P(hat) below this is a no-hat violation.")
    agree_frames: tuple[Count, Count] = Field(
        (3, 5), description="N of the last M analysed frames must agree before the state flips (flicker).")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Smaller faces are tracked but not judged (RetinaFace boxes of 24 px faces "
                              "often come out at 20-23 px).")
    track_max_age_s: PositiveSeconds = Field(4.0, description="A face unseen this long has left (its episode ends).")
    motion_hold_s: Seconds = Field(3.0, description="Keep detecting this long after the last motion.")
    clip_fps: float = Field(4.0, gt=0, le=15, description="Frame rate of evidence clips (and the pre-roll buffer).")
    clip_max_side: int = Field(640, ge=160, le=4096, description="Evidence frames are shrunk to this long side.")
    jpeg_quality: int = Field(80, ge=30, le=95)
    evidence_share: float = Field(
        0.25, gt=0, le=1, description="Vision media may use this share of the store's disk budget; "
                                      "beyond it clips are skipped and only snapshots kept.")
    live_fps: float = Field(1.0, gt=0, le=5, description="start_live frame rate.")
    live_max_s: PositiveSeconds = Field(300, description="Longest live session a command may ask for.")


# --- video for the platform (agent/video/): relay, recording ring, video on demand -----

class VideoCameraConfig(Strict):
    """A camera's own stream (H.264/H.265 over RTSP), copied by FFmpeg, never transcoded."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                    description="Camera id on the platform (the same id as in cameras: when it is also analysed).")
    url: str = Field(min_length=1, description="The camera's main stream, e.g. rtsp://user:pass@10.0.0.5/stream1 "
                                               "(credentials are never logged).")
    record: bool = Field(True, description="Keep this camera in the local recording ring.")
    relay_to: str | None = Field(None, pattern=r"^(rtmps?|rtsps?)://[^\s/?#]+", max_length=1024,
                                 description="Relay continuously to this rtmp(s):// or rtsp(s):// URL.")


class VideoConfig(Strict):
    enabled: bool = True
    dir: Path = Field(Path("/var/lib/canteen-agent/video"), description="Recording ring and cuts.")
    segment_s: float = Field(60, ge=1, le=600, description="Length of one recorded MP4 segment.")
    retention_days: float = Field(15, gt=0, le=366, description="Recordings are kept this long (regional rules: >= 15).")
    disk_budget_mb: float = Field(20480, gt=0, description="The ring's own share of the disk.")
    min_free_mb: float = Field(
        512, ge=0, description="The ring gives way first: it evicts its oldest segments while the file system has "
                               "less than this free, so the store's records always have room.")
    max_streams: int = Field(2, ge=0, le=16, description="Concurrent relays (continuous ones count).")
    max_stream_s: float = Field(3600, gt=0, le=86400, description="Longest relay a start_stream may ask for.")
    allowed_target_hosts: list[str] = Field(
        default_factory=list, description="Relay only to these hosts (empty: any host a signed command names).")
    fetch_max_s: float = Field(900, gt=0, le=7200, description="Longest range one fetch_video may ask for.")
    fetch_max_mb: float = Field(128, gt=0, le=256, description="Largest cut fetch_video sends (the platform takes 256).")
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(30.0, gt=0, le=600)
    io_timeout_s: float = Field(5.0, gt=0, le=60, description="A camera silent this long is lost (FFmpeg socket timeout).")
    stall_s: float = Field(15.0, gt=0, le=300, description="No media this long: the FFmpeg child is restarted.")
    cameras: list[VideoCameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> VideoConfig:
        ids = [c.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate video camera id")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        relays = [c for c in self.cameras if c.relay_to]
        if len(relays) > self.max_streams:
            raise ValueError(f"{len(relays)} continuous relays exceed max_streams={self.max_streams}")
        for camera in relays:  # the scheme is the field's pattern; the host list is checked here
            host = urlsplit(camera.relay_to or "").hostname
            if self.allowed_target_hosts and host not in self.allowed_target_hosts:
                raise ValueError(f"video camera {camera.id!r}: relay_to host {host!r} is not in allowed_target_hosts")
        return self


# --- stations: serial devices bound to a duty (agent/workflows/) -------------------------

# The station catalog: each kind and the device roles it cannot work without. The
# workflow class of each kind is in agent/wiring/serial.py (``WORKFLOWS``: the config
# must not import workflows); a test checks both list the same kinds.
STATION_REQUIRED: dict[str, tuple[str, ...]] = {
    "morning_check": ("badge", "thermometer"),
    "food_sample": ("badge", "scale"),
    "receiving": ("badge", "scale"),
    "additive": ("badge", "scale"),
    "checkin": ("badge",),
}
# which device kind each station role must name (drivers' ``kind``)
STATION_DEVICE_KINDS = {"badge": "badge_reader", "thermometer": "ir_thermometer", "scale": "scale",
                        "keypad": "barcode_reader", "barcode": "barcode_reader"}
if TYPE_CHECKING:
    StationKind = str
else:
    StationKind = Literal[tuple(STATION_REQUIRED)]
CheckinMode = Literal["leader_meal", "staff_training", "superior_inspection"]


class StationConfig(Strict):
    """One place where staff do one duty, and the devices bound to it.

    Every station starts with a badge. Keypad and barcode inputs are keyboard-style
    ``barcode_reader`` devices; the keypad grammar of each kind is documented in its
    workflow module (agent/workflows/<kind>.py).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Station id (feedback, logs).")
    kind: StationKind
    badge: str | None = Field(None, description="Device id of the badge reader (required).")
    thermometer: str | None = Field(None, description="morning_check: device id of the IR thermometer.")
    scale: str | None = Field(None, description="food_sample / receiving / additive: device id of the scale.")
    keypad: str | None = Field(None, description="Device id of a keypad (answers, choices, typed values).")
    barcode: str | None = Field(None, description="receiving / additive: device id of a barcode reader.")
    checkin_modes: list[CheckinMode] = Field(
        ["leader_meal"], min_length=1, description="checkin: the first is the default; keypad 1..n selects one.")
    session: str | None = Field(None, description="staff_training: session name (default: 培训 + date).")
    session_hours: PositiveHours | None = Field(None, description="staff_training: hours credited.")
    organisation: str | None = Field(None, description="superior_inspection: inspecting authority.")
    allowed_roles: list[str] = Field(default_factory=list, description="checkin: roster roles accepted (empty: any).")
    additives: list[str] = Field(default_factory=list,
                                 description="additive: names chosen by keypad 1..n (default: rules.additive_limits_g).")
    fridge_id: str | None = Field(None, description="food_sample: the sample fridge's id, written on each record.")
    tare_g: float = Field(0.0, ge=0, le=1_000_000, description="Container weight subtracted from every stable weight.")
    settle_readings: int | None = Field(
        None, ge=1, le=1000, description="morning_check: consecutive close readings that make a measurement "
                                "(default: 3 for streaming thermometers, 1 for ascii_line ones).")
    presence_min_c: Celsius = Field(32.0, description="morning_check: readings below this are the room, not a person.")
    answers_required: bool = Field(False, description="morning_check: wait for keypad answers before recording.")
    answers_window_s: PositiveSeconds = Field(20, description="morning_check: after the temperature, wait this long for answers.")
    session_timeout_s: PositiveSeconds = Field(120, description="food_sample / receiving / additive: idle session ends.")
    meal_margin_min: float = Field(90, ge=0, le=24 * 60, description="Meals count from this long before their window starts.")
    repeat_scan_s: Seconds = Field(3.0, description="The same card again within this is one scan (readers repeat).")
    camera: str | None = Field(
        None, description="Id of a camera (cameras: or video.cameras) watching this station: every record it "
                          "writes carries a photo of that moment (media role photo; see photos:).")


class PhotosConfig(Strict):
    """Photos on station records: how long a record may wait for its picture, and how fresh it must be."""

    wait_ms: float = Field(200, ge=0, le=2000, description="A record waits at most this long for its photo; "
                                                           "a photo not at hand by then follows the record (pending).")
    max_age_s: float = Field(3.0, gt=0, le=60, description="A camera whose newest picture is older than this "
                                                           "is not delivering: the record is saved without one.")
    grab_timeout_s: float = Field(5.0, gt=0, le=30, description="A camera nobody else reads is grabbed once per "
                                                                "record with FFmpeg; it gives up after this.")
    max_side: int = Field(1280, ge=160, le=4096, description="Photos are shrunk to this long side.")
    jpeg_quality: int = Field(80, ge=30, le=95)


DEFAULT_DAILY_CHECK = [
    "从业人员着装整洁、佩戴口罩帽子 / staff dressed, masks and hats on",
    "操作间地面、台面清洁 / floors and worktops clean",
    "生熟分开、容器标识清楚 / raw and cooked kept apart, containers labelled",
    "冰箱冷库温度正常、无过期食品 / fridges in range, nothing past its date",
    "防蝇防鼠设施完好 / fly and rodent screens intact",
    "垃圾桶加盖、及时清运 / bins covered and emptied",
]


class ConsoleConfig(Strict):
    """The kitchen console: station screens and the manager's pages (HTTP)."""

    enabled: bool = Field(True, description="Serve the console (station screens, manager pages).")
    host: str = Field("127.0.0.1", description="Listen address: loopback by default; the box's LAN "
                                               "address (or 0.0.0.0) for tablets and phones.")
    port: int = Field(8080, ge=0, le=65535, description="0: any free port (tests, the demo).")
    session_idle_min: float = Field(15, ge=1, le=24 * 60, description="A manager idle this long logs in again.")
    login_attempts: int = Field(5, ge=1, le=100, description="Failed logins per client and per user name ...")
    login_window_s: float = Field(300, ge=10, le=86400, description="... within this window; then refused.")
    upload_max_kb: int = Field(4096, ge=16, le=32768, description="Largest photo accepted.")
    screen_hold_s: float = Field(20, ge=2, le=600, description="A station screen shows a verdict this long, "
                                                             "then forgets the person.")
    daily_check_items: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DAILY_CHECK), min_length=1, max_length=60,
        description="常规日检: the canteen's checklist, one line per item.")


class AgentConfig(Strict):
    identity: Identity
    broker: BrokerConfig = BrokerConfig()
    store: StoreConfig = StoreConfig()
    rules: Rules = Rules()
    schedules: Schedules = Schedules()
    site: SiteConfig = SiteConfig()
    devices: list[DeviceConfig] = Field(default_factory=list, description="Serial devices.")
    modbus: list[ModbusBusConfig] = Field(default_factory=list, description="Modbus buses and gateways.")
    cameras: list[CameraConfig] = Field(default_factory=list)
    stations: list[StationConfig] = Field(default_factory=list, description="Serial devices bound to duties.")
    photos: PhotosConfig = PhotosConfig()
    vision: VisionConfig = VisionConfig()
    video: VideoConfig = VideoConfig()
    logging: LoggingConfig = LoggingConfig()
    console: ConsoleConfig = ConsoleConfig()

    @model_validator(mode="after")
    def _unique_ids(self) -> AgentConfig:
        seen: set[str] = set()
        ids = [d.id for d in self.devices] + [c.id for c in self.cameras]
        for bus in self.modbus:
            ids += [bus.id] + [d.id for d in bus.devices]
        for item in ids:
            if item in seen:
                raise ValueError(f"duplicate device/camera id {item!r}")
            seen.add(item)
        return self

    @model_validator(mode="after")
    def _modbus_roles_fit(self) -> AgentConfig:
        roles_of(self.modbus, self.rules.disinfection.methods)  # unknown role, method or cabinet: ModbusRoleError
        return self

    @model_validator(mode="after")
    def _modbus_profiles_known(self) -> AgentConfig:
        """Every Modbus device names a profile the agent loads, with the points its roles watch."""
        if not any(bus.devices for bus in self.modbus):
            return self
        from drivers.modbus.profiles import load_profiles

        profiles = load_profiles()  # what run loads
        for bus in self.modbus:
            for device in bus.devices:
                if device.profile not in profiles:
                    raise ValueError(f"modbus bus {bus.id!r} device {device.id!r}: unknown Modbus profile "
                                     f"{device.profile!r} (known: {', '.join(sorted(profiles))})")
        check_points(roles_of(self.modbus, self.rules.disinfection.methods), {d.id: {p.name for p in profiles[d.profile].points}
                                         for bus in self.modbus for d in bus.devices})
        return self

    @model_validator(mode="after")
    def _stations_use_declared_devices(self) -> AgentConfig:
        kinds = {d.id: type(d).model_fields["kind"].default for d in self.devices}  # the catalog union is opaque to mypy
        owner: dict[str, str] = {}
        station_ids: set[str] = set()
        for station in self.stations:
            if station.id in station_ids:
                raise ValueError(f"duplicate station id {station.id!r}")
            station_ids.add(station.id)
            for role in STATION_REQUIRED[station.kind]:
                if getattr(station, role) is None:
                    raise ValueError(f"station {station.id!r} ({station.kind}) needs a {role} device")
            for role, kind in STATION_DEVICE_KINDS.items():
                device_id = getattr(station, role)
                if device_id is None:
                    continue
                if kinds.get(device_id) != kind:
                    raise ValueError(f"station {station.id!r}: {role} {device_id!r} is not a declared {kind} device")
                if owner.get(device_id, station.id) != station.id:
                    raise ValueError(f"device {device_id!r} is bound to stations {owner[device_id]!r} and {station.id!r}")
                owner[device_id] = station.id
            if station.kind == "receiving" and station.keypad is None and station.barcode is None:
                raise ValueError(f"station {station.id!r} (receiving) needs a keypad or barcode device")
        return self

    @model_validator(mode="after")
    def _station_cameras_declared(self) -> AgentConfig:
        """A station's camera is one the installer declared: analysed (cameras:) or recorded (video.cameras)."""
        analysed = [c.id for c in self.cameras]
        recorded = [c.id for c in self.video.cameras]
        for station in self.stations:
            if station.camera is not None and station.camera not in {*analysed, *recorded}:
                ids = sorted({*analysed, *recorded})
                close = difflib.get_close_matches(station.camera, ids, n=1, cutoff=0.85)  # a typo, not a sibling
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"station {station.id!r}: camera {station.camera!r} is not a declared camera "
                                 f"(cameras: or video.cameras; known: {', '.join(ids) or 'none declared'}{hint})")
        return self


def _check_public_key(text: str) -> None:
    """The uplink decodes the key when it starts; a key it cannot decode is a config error."""
    from agent.uplink.commands import load_public_key  # late: the uplink imports this module

    try:
        load_public_key(text)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("platform_public_key is not an Ed25519 public key "
                         f"(base64 of 32 bytes, or PEM): {exc}") from None


def _read_secret(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from exc

