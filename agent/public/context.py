"""What the public pages are given, in the public side's own process: the config, the
store's reads (opened read-only), the door to the agent (its clock; complaints, survey
answers and camera stills go through it), the social end's notes (read), their own
sessions and limits, and the shared refusal counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from starlette.templating import Jinja2Templates

from agent.config.public import PublicConfig
from agent.config_file.model import AgentConfig
from agent.core.reads import Reads
from agent.public.door import Door
from agent.public.limits import LogGate, Window
from agent.public.sessions import PublicSessions
from agent.social.counters import Refusals
from agent.social.invites import Invites
from agent.social.port import SocialStore
from agent.social.surveys import Surveys

TEMPLATES = Path(__file__).parent / "templates"
HOUR = 3600.0


class LiveViewer(Protocol):
    def newest(self, after: int) -> tuple[int, bytes] | None:
        """The newest picture (its number, a JPEG) if newer than ``after``."""
        ...

    def leave(self) -> None: ...


class LiveSource(Protocol):
    """The live cameras (``agent.video.live.LiveHub``, given by the wiring)."""

    def is_live(self, camera: str) -> bool: ...

    def full(self, camera: str) -> str | None: ...

    def join(self, camera: str) -> LiveViewer | None: ...

    def close(self) -> None: ...


@dataclass
class Limits:
    requests: Window
    complaints_address: Window
    complaints_total: Window
    complaints_burst: Window
    codes: Window
    survey_address: Window

    @classmethod
    def of(cls, cfg: PublicConfig) -> Limits:
        return cls(Window(cfg.requests_per_min, 60), Window(cfg.complaints_per_address, cfg.complaints_window_s),
                   Window(cfg.complaints_per_hour, HOUR), Window(cfg.complaints_per_minute, 60),
                   Window(cfg.code_attempts, cfg.code_window_s),
                   Window(cfg.survey_answers_per_address, 366 * 86400))


@dataclass
class Public:
    config: AgentConfig
    reads: Reads
    door: Door
    invites: Invites
    surveys: Surveys
    sessions: PublicSessions
    limits: Limits
    refusals: Refusals
    templates: Jinja2Templates
    log_gate: LogGate
    live: LiveSource | None = None  # None: no camera is shown live

    @classmethod
    def create(cls, config: AgentConfig, reads: Reads, notes: SocialStore, door: Door, refusals: Refusals,
               live: LiveSource | None = None) -> Public:
        cfg = config.public
        templates = Jinja2Templates(directory=str(TEMPLATES))
        return cls(config, reads, door, Invites(notes), Surveys(notes), PublicSessions(cfg.session_idle_min * 60),
                   Limits.of(cfg), refusals, templates, LogGate(), live)

    def now(self) -> datetime:
        return self.door.now()
