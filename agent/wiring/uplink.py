"""The MQTT uplink, attached to the agent's store, status and every capability's commands.

Built after the other capabilities (it answers their platform commands) and started
before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.command_contract import Handler
from agent.uplink.commands import CommandProcessor
from agent.uplink.config_trial import trial_components
from agent.uplink.status import build_status
from agent.uplink.uplink import Uplink
from agent.view import AgentControl
from agent.wiring.capability import BuildContext, Capability


@dataclass(frozen=True, slots=True, kw_only=True)
class UplinkCapability(Capability):
    uplink: Uplink


def build(ctx: BuildContext, view: AgentControl, commands: Mapping[str, Handler]) -> UplinkCapability:
    broker = ctx.config.broker
    processor = CommandProcessor(ctx.store, dict(commands), ctx.now, broker.platform_public_key,
                                 agent_id=ctx.config.identity.agent_id,
                                 max_validity_s=broker.command_max_validity_s,
                                 clock_skew_s=broker.command_clock_skew_s)
    uplink = Uplink(ctx.store, broker, ctx.config.identity.agent_id, processor,
                    status=lambda: build_status(view), status_version=lambda: view.devices.version)
    # a config from set_config stays only if the uplink connects with it (agent.uplink.config_trial)
    trial = trial_components(view, ctx.recorder, uplink.connected)
    return UplinkCapability("uplink", components=(uplink, *trial), uplink=uplink)
