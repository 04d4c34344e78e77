"""What the console's pages are given: the agent's parts they may use, and nothing else.

Pages read the store through its named queries and write only through the Recorder
(judged, enveloped, committed, queued for the platform like every record).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from agent.config.model import AgentConfig
from agent.console.auth import LoginLimiter
from agent.console.doctor_run import DoctorRunner
from agent.console.i18n import bi, pair, zh
from agent.console.roles import may
from agent.console.sessions import SessionStore
from agent.console.station_feed import StationFeed
from agent.core.recorder import Recorder
from agent.core.words import STATION_KINDS, meal, term
from agent.store import Store

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class Console:
    config: AgentConfig
    store: Store
    recorder: Recorder
    now: Callable[[], datetime]
    feed: StationFeed
    sessions: SessionStore
    limiter: LoginLimiter
    templates: Jinja2Templates
    doctor: DoctorRunner
    devices: Callable[[], dict[str, Any]] = dict  # device id -> health (the installer's page)

    @classmethod
    def create(cls, config: AgentConfig, store: Store, recorder: Recorder, now: Callable[[], datetime],
               feed: StationFeed, devices: Callable[[], dict[str, Any]] = dict,
               config_path: Path | None = None,
               uplink_connected: Callable[[], bool | None] = lambda: None) -> Console:
        cfg = config.console
        templates = Jinja2Templates(directory=str(TEMPLATES))
        templates.env.globals.update(bi=bi, zh=zh, pair=pair, may=may, meal_words=meal,
                                     station_kind=lambda kind: term(STATION_KINDS, kind))
        return cls(config, store, recorder, now, feed, SessionStore(cfg.session_idle_min * 60),
                   LoginLimiter(cfg.login_attempts, cfg.login_window_s), templates,
                   DoctorRunner(config, config_path, devices, uplink_connected, now), devices)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.config.identity.tz)
