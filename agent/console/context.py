"""What the console's pages are given: the agent's view and the doors they may write through.

Pages read through the agent's read-only view (``AgentView``: the config, the clock, the
store's named queries typed ``Reads``, the devices' states) and write through named doors
only: the Recorder for records and alarm acknowledgements (judged, enveloped, committed,
queued for the platform like every record), ``accounts`` for console users. The console
never holds the ``Store``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from agent.config_file.model import AgentConfig
from agent.console.auth import LoginLimiter, UserStore
from agent.console.doctor_run import DoctorRunner
from agent.console.i18n import bi, pair, zh
from agent.console.roles import may, role_words
from agent.console.sessions import SessionStore
from agent.console.station_feed import StationFeed
from agent.core.reads import Reads
from agent.core.recorder import Recorder
from agent.social.counters import Refusals
from agent.social.invites import Invites
from agent.social.port import SocialStore
from agent.social.surveys import Surveys
from agent.stations.registry import station_kind
from agent.view import AgentView
from agent.words.alarms import kind_term
from agent.words.terms import meal

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class Console:
    view: AgentView  # read-only: config, clock, the store's queries, devices
    recorder: Recorder  # every record and acknowledgement a page writes
    accounts: UserStore  # console users: add, look up
    feed: StationFeed
    sessions: SessionStore
    limiter: LoginLimiter
    templates: Jinja2Templates
    doctor: DoctorRunner
    invites: Invites  # the social end's invite codes (the store's notes)
    surveys: Surveys  # ... and its surveys
    refusals: Refusals  # what the public listener refused, for the installer

    @classmethod
    def create(cls, view: AgentView, recorder: Recorder, accounts: UserStore, feed: StationFeed,
               uplink_connected: Callable[[], bool | None] = lambda: None, *, notes: SocialStore,
               refusals: Refusals | None = None) -> Console:
        cfg = view.config.console
        templates = Jinja2Templates(directory=str(TEMPLATES))
        templates.env.globals.update(bi=bi, zh=zh, pair=pair, may=may, role_words=role_words, meal_words=meal,
                                     station_kind=station_kind, alarm_words=kind_term)
        devices = view.devices.snapshot
        return cls(view, recorder, accounts, feed, SessionStore(cfg.session_idle_min * 60),
                   LoginLimiter(cfg.login_attempts, cfg.login_window_s), templates,
                   DoctorRunner(view.config, view.config_path, devices, uplink_connected, view.now,
                                gb28181=lambda: (view.video_status() or {}).get("gb28181")),
                   Invites(notes), Surveys(notes), refusals or Refusals())

    @property
    def config(self) -> AgentConfig:
        return self.view.config

    @property
    def store(self) -> Reads:
        """The store's named queries (read-only); writes go through ``recorder`` or ``accounts``."""
        return self.view.store

    def now(self) -> datetime:
        return self.view.now()

    def devices(self) -> dict[str, Any]:
        """Device id -> its last known state (the installer's page)."""
        return self.view.devices.snapshot()

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.config.identity.tz)

    def today(self) -> date:
        """The canteen's local day now (its time zone, not the box's)."""
        return self.local(self.now()).date()
