"""Public capability: the social end's listener (``agent.public``), off unless ``public.enabled``.

One supervised component with its own thread, loop and worker budget: a public side that
is down or flooded stops and slows nothing else. The refusals it counts are shared with
the console (the installer's page shows them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.social.counters import Refusals
from agent.view import AgentView
from agent.wiring.capability import BuildContext, Capability

if TYPE_CHECKING:
    from agent.public.app import PublicComponent


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicCapability(Capability):
    server: PublicComponent | None  # None: public.enabled is false
    refusals: Refusals = field(default_factory=Refusals)


def build(ctx: BuildContext, view: AgentView) -> PublicCapability:
    refusals = Refusals()
    if not ctx.config.public.enabled:
        return PublicCapability("public", server=None, refusals=refusals)
    from agent.public.app import PublicComponent  # late: an agent without it never loads its pages
    from agent.public.context import Public

    server = PublicComponent(Public.create(view, ctx.recorder, ctx.store, refusals))
    return PublicCapability("public", components=(server,), server=server, refusals=refusals)
