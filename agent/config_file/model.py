"""The agent's configuration: one YAML file, validated by pydantic.

Unknown keys are errors (a typo must not pass silently). Every value can be
overridden from the environment with ``CANTEEN__SECTION__KEY=value`` (values parse
as YAML scalars, list items by index: ``CANTEEN__DEVICES__0__PORT``), and secrets
come from files (``password_file``, ``*_file``) so one config serves a fleet.

Every number from docs/DOMAIN.md lives here as a default, never as a constant in code.
"""

from __future__ import annotations

import difflib

from pydantic import Field, model_validator

from agent.config.base import Strict
from agent.config.broker import BrokerConfig
from agent.config.console import ConsoleConfig
from agent.config.devices import CameraConfig, DeviceConfig, ModbusBusConfig
from agent.config.identity import Identity
from agent.config.logs import LoggingConfig
from agent.config.modbus_roles import check_points, roles_of
from agent.config.nutrition import NutritionConfig
from agent.config.public import PublicConfig
from agent.config.rules import Rules
from agent.config.site import Schedules, SiteConfig
from agent.config.stations import PhotosConfig
from agent.config.storage import StoreConfig
from agent.config.updates import UpdateConfig
from agent.config.video import VideoConfig
from agent.config.vision import VisionConfig
from agent.stations.registry import STATION_KINDS, STATION_REQUIRED, StationUnion
from drivers.serial_devices import kinds_for_role

# role -> the device kinds that may fill it (the drivers' catalog), for every role a station kind has
STATION_DEVICE_KINDS: dict[str, tuple[str, ...]] = {
    role: kinds_for_role(role) for kind in STATION_KINDS for role in kind.config.roles}


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
    stations: list[StationUnion] = Field(default_factory=list, description="Serial devices bound to duties.")
    photos: PhotosConfig = PhotosConfig()
    vision: VisionConfig = VisionConfig()
    video: VideoConfig = VideoConfig()
    logging: LoggingConfig = LoggingConfig()
    console: ConsoleConfig = ConsoleConfig()
    public: PublicConfig = PublicConfig()
    update: UpdateConfig = UpdateConfig()
    nutrition: NutritionConfig = NutritionConfig()

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
            for role in station.roles:
                device_id = getattr(station, role)
                if device_id is None:
                    continue
                fits = kinds_for_role(role)  # the drivers' catalog: which device kinds fill the role
                if kinds.get(device_id) not in fits:
                    raise ValueError(f"station {station.id!r}: {role} {device_id!r} is not a declared "
                                     f"{' or '.join(fits)} device")
                if owner.get(device_id, station.id) != station.id:
                    raise ValueError(f"device {device_id!r} is bound to stations {owner[device_id]!r} and {station.id!r}")
                owner[device_id] = station.id
        return self

    @model_validator(mode="after")
    def _public_cameras_analysed(self) -> AgentConfig:
        """The public side shows stills of cameras the vision worker decodes (``cameras:``)."""
        analysed = {c.id for c in self.cameras}
        for camera in self.public.public_cameras:
            if camera not in analysed:
                raise ValueError(f"public.public_cameras: {camera!r} is not a declared camera under cameras: "
                                 f"(known: {', '.join(sorted(analysed)) or 'none declared'})")
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

