"""How each capability attaches to the agent.

Every module listed here has ``build(agent) -> list[Component]``: it reads the
config, creates its drivers and workflows (workflows join ``agent.bus``) and returns
the components the supervisor must run. The list is explicit, in start order.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

log = logging.getLogger("agent.wiring")

CAPABILITIES = [
    "agent.wiring.uplink",      # MQTT link to the platform
    "agent.wiring.serial",      # badge readers, thermometers, scales and their workflows
    "agent.wiring.modbus",      # cold chain, disinfection cycles, UV runs
    "agent.wiring.vision",      # cameras and compliance
    "agent.wiring.video",       # recording ring, stream relay, video on demand
    "agent.wiring.schedule",    # reminders, expiry warnings, daily ledger
]


def capability_modules() -> list[ModuleType]:
    """The capability modules present in this build (all of them once complete)."""
    found = []
    for name in CAPABILITIES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
            log.debug("capability not built yet: %s", name)
    return found
