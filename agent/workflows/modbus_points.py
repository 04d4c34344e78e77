"""The Modbus roles of an agent's config (``agent/config/modbus_roles.py`` holds the rules of them)."""

from __future__ import annotations

from agent.config.modbus_roles import (
    ALARMED_COLD_ROLES,
    CABINET,
    CABINET_CONTACT,
    COLD_ROLES,
    PREMISES_ROLES,
    ModbusRoleError,
    PointRole,
    check_points,
    roles_of,
)
from agent.config.settings import Settings

__all__ = ["ALARMED_COLD_ROLES", "CABINET", "CABINET_CONTACT", "COLD_ROLES", "PREMISES_ROLES", "ModbusRoleError",
           "PointRole", "check_points", "modbus_device_ids", "point_roles"]


def point_roles(config: Settings) -> list[PointRole]:
    """Every role-bearing point of every Modbus device; ``ModbusRoleError`` when they do not fit."""
    return roles_of(config.modbus, config.rules.disinfection.methods)


def modbus_device_ids(config: Settings) -> set[str]:
    return {d.id for bus in config.modbus for d in bus.devices}
