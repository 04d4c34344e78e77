"""The narrow, read-only view of a running agent that status, commands and screens build on.

``agent.app.Agent`` satisfies these protocols; nothing that reads the agent's state
(the retained status, the platform command handlers, the kitchen web console, the
video module) depends on ``Agent`` itself, so they import no capability and cannot
form an import cycle through it. What they may read:

- the config, its file, the version, the agent's clocks;
- the store's named queries (``Reads``: records, alarms, roster, ledgers; records and
  alarms are written through the recorder, never by a reader);
- the devices' last known states (serial, Modbus, cameras: ``DeviceStates``);
- the supervised components' states, the clock's trust state;
- the cameras' live sources (newest frame, state), when vision runs;
- the station messages, by adding a feedback output (the console's station screens).

``AgentControl`` adds what a platform command may do: ask the agent to reload its
config, reach the store itself (the roster the platform sends, a resend of records), and
the recorder (the platform's basic data becomes records through it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.config_file.model import AgentConfig
from agent.core.reads import Reads
from agent.records.envelope import ClockState

if TYPE_CHECKING:  # heavy or store-level types, for annotations only
    from agent.core.feedback import FeedbackOutput
    from agent.core.recorder import Recorder
    from agent.store import Store
    from agent.vision.camera import Frame


class DeviceStates(Protocol):
    """Last known state of every device and camera (``agent.device_registry``)."""

    @property
    def version(self) -> int:
        """Bumps on every state change (the status is re-published then)."""
        ...

    def snapshot(self) -> dict[str, dict[str, Any]]: ...


class CameraFeed(Protocol):
    """One camera's live source (``agent.vision.camera.CameraSource``)."""

    @property
    def state(self) -> str:
        """``starting``, ``ok`` or ``disconnected``."""
        ...

    def latest(self) -> Frame | None:
        """The newest decoded frame (BGR image, timeline second, wall time)."""
        ...

    def silent_for(self) -> float:
        """Seconds since the last good frame."""
        ...


class StationMessages(Protocol):
    """What the stations say to people; a screen subscribes with ``add_output``."""

    def add_output(self, output: FeedbackOutput) -> None: ...


class AgentView(Protocol):
    """Read-only: what a running agent shows to status, commands, console and video."""

    @property
    def config(self) -> AgentConfig: ...

    @property
    def config_path(self) -> Path | None: ...

    @property
    def version(self) -> str: ...

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    @property
    def store(self) -> Reads:
        """The store's named queries: read-only."""
        ...

    @property
    def devices(self) -> DeviceStates: ...

    @property
    def messages(self) -> StationMessages: ...

    def component_states(self) -> Mapping[str, str]: ...

    def clock_state(self) -> ClockState: ...

    def video_status(self) -> dict[str, Any] | None:
        """Streams, recording and fetches (None when the box relays no video)."""

    def cameras(self) -> Mapping[str, CameraFeed]:
        """Camera id -> live source; empty when vision is off or no camera is configured."""
        ...


class AgentControl(AgentView, Protocol):
    """The view plus what a platform command may ask of the agent as a whole."""

    @property
    def store(self) -> Store:
        """The store itself: platform commands replace the roster and requeue records."""
        ...

    def request_reload(self) -> None:
        """Stop in order; the runner starts a fresh agent with the config file as it is now."""
        ...

    @property
    def recorder(self) -> Recorder:
        """The one door for records: the platform's basic data becomes records through it."""
        ...
