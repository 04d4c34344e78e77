"""The MQTT uplink, attached to the agent's store, status and command handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.runtime import Component
from agent.status import build_status
from agent.uplink.commands import CommandProcessor
from agent.uplink.uplink import Uplink

if TYPE_CHECKING:
    from agent.app import Agent


def build(agent: Agent) -> list[Component]:
    broker = agent.config.broker
    commands = CommandProcessor(agent.store, agent.command_handlers, agent.now,
                                broker.platform_public_key)
    uplink = Uplink(agent.store, broker, agent.config.identity.agent_id, commands,
                    status=lambda: build_status(agent), status_version=lambda: agent.devices.version)
    agent.uplink = uplink  # type: ignore[attr-defined]  # undeclared Agent field: arch-wiring declares them (issue 12 item 1)
    return [uplink]
