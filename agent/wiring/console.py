"""Console capability: the station screens and manager pages (``agent.console``).

The station screens are one more output (``StationFeed``) on the feedback the station
workflows already answer through; the server is one supervised component, so a console
that fails (a port in use) is retried and stops nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.social.counters import Refusals
from agent.view import AgentView
from agent.wiring.capability import BuildContext, Capability

if TYPE_CHECKING:
    from agent.console.app import ConsoleComponent


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleCapability(Capability):
    server: ConsoleComponent | None  # None: console.enabled is false


def build(ctx: BuildContext, view: AgentView, refusals: Refusals | None = None) -> ConsoleCapability:
    """``view``: the running agent, read-only (the console's pages read through it); ``refusals``:
    what the public listener refused (the installer's page)."""
    config = ctx.config
    if not config.console.enabled:
        return ConsoleCapability("console", server=None)
    # late: an agent without a console never loads the web stack (starlette, uvicorn, jinja2)
    from agent.console.app import ConsoleComponent
    from agent.console.context import Console
    from agent.console.station_feed import StationFeed

    feed = StationFeed([s.id for s in config.stations], hold_s=config.console.screen_hold_s,
                       devices={s.id: s.devices_needed() for s in config.stations})
    ctx.feedback.add_output(feed)
    # the store is the accounts' door too: the console sees it only as ``UserStore``
    console = Console.create(view, ctx.recorder, ctx.store, feed, ctx.uplink_connected, notes=ctx.store,
                             refusals=refusals or Refusals())
    server = ConsoleComponent(console)
    # the screens show their devices' health live: the drivers' health, from the reading bus
    return ConsoleCapability("console", components=(server,), health_listeners=(feed.on_health,), server=server)
