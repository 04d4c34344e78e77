"""``Settings``: the config file as the rooms below the kinds read it, section by section.

``agent.config_file.model.AgentConfig`` is the whole file: every section plus each
station kind's own model (``agent/stations/<kind>/config.py``), so it sits above the
kinds. The recorder, the workflows and the station kinds read the config through this
protocol of sections instead, which ``AgentConfig`` satisfies (the type checker holds it
to it): they never depend on the kinds they are part of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.config.broker import BrokerConfig
from agent.config.console import ConsoleConfig
from agent.config.devices import CameraConfig, DeviceConfig, ModbusBusConfig
from agent.config.identity import Identity
from agent.config.logs import LoggingConfig
from agent.config.nutrition import NutritionConfig
from agent.config.rules import Rules
from agent.config.site import Schedules, SiteConfig
from agent.config.stations import PhotosConfig, StationConfig
from agent.config.storage import StoreConfig
from agent.config.updates import UpdateConfig
from agent.config.video import VideoConfig
from agent.config.vision import VisionConfig


class Settings(Protocol):
    """Every section of the config file, read-only."""

    @property
    def identity(self) -> Identity: ...

    @property
    def broker(self) -> BrokerConfig: ...

    @property
    def store(self) -> StoreConfig: ...

    @property
    def rules(self) -> Rules: ...

    @property
    def schedules(self) -> Schedules: ...

    @property
    def site(self) -> SiteConfig: ...

    @property
    def devices(self) -> Sequence[DeviceConfig]: ...

    @property
    def modbus(self) -> Sequence[ModbusBusConfig]: ...

    @property
    def cameras(self) -> Sequence[CameraConfig]: ...

    @property
    def stations(self) -> Sequence[StationConfig]: ...

    @property
    def photos(self) -> PhotosConfig: ...

    @property
    def vision(self) -> VisionConfig: ...

    @property
    def video(self) -> VideoConfig: ...

    @property
    def logging(self) -> LoggingConfig: ...

    @property
    def console(self) -> ConsoleConfig: ...

    @property
    def update(self) -> UpdateConfig: ...

    @property
    def nutrition(self) -> NutritionConfig: ...
