"""Public capability: the social end's listener (``agent.public``), off unless ``public.enabled``.

One supervised component whose run is a process of its own (``agent.public.process``):
lower CPU priority, its own worker budget, the store opened read-only, writing only
through the door to the agent's Recorder (``agent.public.desk``). A public side that is
down or flooded stops and slows nothing else. The refusals it counts are shared with the
console (the installer's page shows them, and the process's state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.social.counters import Refusals
from agent.view import AgentView
from agent.wiring.capability import BuildContext, Capability

if TYPE_CHECKING:
    from agent.public.process import PublicProcess

CHILD = "agent.wiring.public_child"


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicCapability(Capability):
    server: PublicProcess | None  # None: public.enabled is false
    refusals: Refusals = field(default_factory=Refusals)


def build(ctx: BuildContext, view: AgentView) -> PublicCapability:
    refusals = Refusals()
    if not ctx.config.public.enabled:
        return PublicCapability("public", server=None, refusals=refusals)
    from agent.public.desk import Desk  # late: an agent without it never loads its pages
    from agent.public.process import PublicProcess

    desk = Desk(view, ctx.recorder, ctx.store)
    server = PublicProcess(desk, refusals, CHILD, ctx.store.path, ctx.store.media_dir)
    return PublicCapability("public", components=(server,), server=server, refusals=refusals)
