"""What each configured Modbus point is for: the roles the Modbus workflows act on.

A config-level module (it reads only the Modbus bus configs and the method names), so
the config can check the roles without importing a workflow.

The driver passes ``role`` (and room, point, method, cabinet, channels) through
untouched. Here they become ``PointRole`` values, one per watched point: a device's
own role plus one per channel of a multi-input module. Inconsistent wiring (a contact
linked to no cabinet, an unknown method) is a config error at start, not a silent gap.

Roles:
- cold chain: ``fridge``, ``freezer`` (range alarms), ``room``, ``store`` (telemetry and
  hourly figures only);
- ``cabinet``: a disinfection cabinet's temperature probe; ``cabinet_contact``: its run
  contact (``cabinet`` names the cabinet device);
- premises: ``uv_lamp``, ``ozone`` run contacts (``room`` says where).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from drivers.modbus.config import ModbusBusConfig

COLD_ROLES = frozenset({"fridge", "freezer", "room", "store"})
ALARMED_COLD_ROLES = frozenset({"fridge", "freezer"})
CABINET = "cabinet"
CABINET_CONTACT = "cabinet_contact"
PREMISES_ROLES = frozenset({"uv_lamp", "ozone"})
CONTACT_ROLES = PREMISES_ROLES | {CABINET_CONTACT}
KNOWN_ROLES = COLD_ROLES | PREMISES_ROLES | {CABINET, CABINET_CONTACT}
DEFAULT_METHOD = "infrared_cabinet"
TEMPERATURE_POINT = "temperature_c"
CONTACT_POINT = "run"


class ModbusRoleError(ValueError):
    """The Modbus role fields of the config do not fit together."""


@dataclass(frozen=True, slots=True)
class PointRole:
    """One watched point of one device and what it is for."""

    device_id: str
    point: str
    role: str
    room: str | None = None
    method: str | None = None  # cabinets only
    cabinet: str | None = None  # cabinet contacts only


def _default_point(role: str) -> str:
    return CONTACT_POINT if role in CONTACT_ROLES else TEMPERATURE_POINT


def roles_of(buses: Sequence[ModbusBusConfig], methods: Collection[str]) -> list[PointRole]:
    """Every role-bearing point of every Modbus device (devices without a role: none).

    ``methods``: the names in ``rules.disinfection.methods`` a cabinet may use.
    """
    found: list[PointRole] = []
    for bus in buses:
        for device in bus.devices:
            if device.role:
                method = (device.method or DEFAULT_METHOD) if device.role == CABINET else None
                found.append(PointRole(device.id, device.point or _default_point(device.role), device.role,
                                       device.room, method, device.cabinet))
            for channel in device.channels:
                found.append(PointRole(device.id, channel.point, channel.role, channel.room,
                                       None, channel.cabinet))
    _check(found, methods)
    return found


def _check(roles: list[PointRole], methods: Collection[str]) -> None:
    cabinets = {r.device_id for r in roles if r.role == CABINET}
    seen: set[tuple[str, str]] = set()
    for r in roles:
        where = f"modbus device {r.device_id} point {r.point}"
        if r.role not in KNOWN_ROLES:
            raise ModbusRoleError(f"{where}: unknown role {r.role!r} (known: {', '.join(sorted(KNOWN_ROLES))})")
        if (r.device_id, r.point) in seen:
            raise ModbusRoleError(f"{where}: given two roles")
        seen.add((r.device_id, r.point))
        if r.role == CABINET and r.method not in methods:
            raise ModbusRoleError(f"{where}: method {r.method!r} is not in rules.disinfection.methods "
                                  f"({', '.join(sorted(methods))})")
        if r.role == CABINET_CONTACT and r.cabinet not in cabinets:
            raise ModbusRoleError(f"{where}: cabinet_contact needs `cabinet` naming a cabinet device "
                                  f"(got {r.cabinet!r}; cabinets: {', '.join(sorted(cabinets)) or 'none'})")
        if r.cabinet is not None and r.role != CABINET_CONTACT:
            raise ModbusRoleError(f"{where}: `cabinet` is only for role cabinet_contact")


def check_points(roles: list[PointRole], profile_points: dict[str, set[str]]) -> None:
    """Every role's point exists in its device's profile (``device id -> point names``)."""
    for r in roles:
        known = profile_points.get(r.device_id)
        if known is not None and r.point not in known:
            raise ModbusRoleError(f"modbus device {r.device_id}: role {r.role} watches point {r.point!r}, "
                                  f"which its profile does not have ({', '.join(sorted(known))})")
