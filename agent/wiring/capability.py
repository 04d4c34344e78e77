"""What a capability is given (``BuildContext``) and what it gives back (``Capability``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.command_contract import Handler
from agent.config_file.model import AgentConfig
from agent.core.feedback import Feedback
from agent.core.reading_bus import Workflow
from agent.core.recorder import Recorder
from agent.core.timeutil import Monotonic, Now
from agent.device_registry import DeviceRegistry
from agent.ops.runtime import Component
from agent.store import Store
from agent.workflows.device_health import DeviceHealthWatch, OfflinePolicy
from drivers.readings import DeviceHealth, HealthSink, ReadingSink

PublishLive = Callable[[str, bytes], bool]  # (topic suffix, payload) -> sent


@dataclass(frozen=True, slots=True)
class BuildContext:
    """Everything a capability may use; built once per agent, shared by every capability."""

    config: AgentConfig
    now: Now
    monotonic: Monotonic
    store: Store
    recorder: Recorder
    devices: DeviceRegistry  # figures a capability publishes itself (cameras)
    feedback: Feedback  # what stations and reminders say to people
    reading_sink: ReadingSink  # drivers publish readings here (the reading bus)
    health_sink: HealthSink  # ... and their health
    device_health: DeviceHealthWatch  # camera workers report to it directly (their own thread)
    publish_live: PublishLive  # live video frames to the platform (QoS 0, never queued)
    config_path: Path | None = None  # the file the config came from (the console's doctor re-reads it)
    uplink_connected: Callable[[], bool | None] = lambda: None  # the agent's MQTT session (None: no uplink yet)


@dataclass(frozen=True, slots=True)
class Capability:
    """What one capability adds to the agent."""

    name: str
    components: tuple[Component, ...] = ()  # supervised, each in its own thread
    workflows: tuple[Workflow, ...] = ()  # join the reading bus (readings, ticks)
    health_listeners: tuple[Callable[[DeviceHealth], None], ...] = ()
    offline: Mapping[str, OfflinePolicy] = field(default_factory=dict)  # device id -> policy
    commands: Mapping[str, Handler] = field(default_factory=dict)  # platform commands answered
