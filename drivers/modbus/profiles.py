"""Device profiles: a Modbus device's register map as data (YAML), validated by pydantic.

A profile says where a device keeps its values and how to turn registers into
engineering units. Built-in profiles live in ``config/profiles/``; a site adds its
own by dropping a YAML file into a user directory: no code change.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

log = logging.getLogger(__name__)

def _builtin_profiles_dir() -> Path:
    """``config/profiles`` in a checkout; in an installed package, the copy that
    pyproject's data-files puts under ``<prefix>/share/canteen-agent/profiles``."""
    checkout = Path(__file__).resolve().parents[2] / "config" / "profiles"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "canteen-agent" / "profiles"


BUILTIN_PROFILES_DIR = _builtin_profiles_dir()

Function = Literal["coils", "discrete", "holding", "input"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
Parity = Literal["N", "E", "O"]

BIT_FUNCTIONS: frozenset[str] = frozenset({"coils", "discrete"})
REGISTERS_PER_TYPE: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialDefaults(_Strict):
    """Factory serial settings of the device (what `probe` tries first)."""

    baudrate: int = Field(9600, gt=0, description="Bits per second.")
    parity: Parity = Field("N", description="N(one), E(ven) or O(dd).")
    stopbits: Literal[1, 2] = Field(1, description="Stop bits.")
    bytesize: Literal[7, 8] = Field(8, description="Data bits per character.")


class PointSpec(_Strict):
    """One named value of a device and how to decode it.

    Signedness is carried by ``data_type`` (``int16`` vs ``uint16``) so the two can
    never contradict each other. value = raw * scale + offset.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Reading key, e.g. temperature_c.")
    address: int = Field(ge=0, le=0xFFFF, description="Zero-based register / bit address.")
    function: Function = Field(description="Register table: coils (FC01), discrete (FC02), holding (FC03), input (FC04).")
    data_type: DataType = Field("uint16", description="Raw type; bool for coils/discrete.")
    scale: float = Field(1.0, description="Multiplier applied to the raw value.")
    offset: float = Field(0.0, description="Added after scaling.")
    unit: str = Field("", description="Engineering unit, informative only.")
    word_order: Literal["big", "little"] = Field("big", description="Register order of 32-bit values.")

    @model_validator(mode="after")
    def _bits_are_bool(self) -> PointSpec:
        is_bit_table = self.function in BIT_FUNCTIONS
        if is_bit_table != (self.data_type == "bool"):
            raise ValueError("coils/discrete points must use data_type bool, registers must not")
        return self

    @property
    def register_count(self) -> int:
        return REGISTERS_PER_TYPE[self.data_type]

    @property
    def signed(self) -> bool:
        return self.data_type in ("int16", "int32", "float32")


class DeviceProfile(_Strict):
    """A device model's register map plus its factory serial settings."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Profile name devices refer to.")
    description: str = Field("", description="Human description (model names, wiring notes).")
    serial: SerialDefaults = Field(default_factory=SerialDefaults, description="Factory serial settings.")
    default_slave: int = Field(1, ge=1, le=247, description="Factory slave id.")
    points: list[PointSpec] = Field(min_length=1, description="Values read from the device.")

    @model_validator(mode="after")
    def _unique_names(self) -> DeviceProfile:
        names = [p.name for p in self.points]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate point names in profile {self.id}")
        return self


class ProfileError(ValueError):
    """A profile file could not be read or validated."""


def load_profile_file(path: Path) -> DeviceProfile:
    """Read and validate one profile YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return DeviceProfile.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ProfileError(f"modbus profile {path}: {exc}") from exc


def _load_dir(directory: Path) -> dict[str, DeviceProfile]:
    found: dict[str, DeviceProfile] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        profile = load_profile_file(path)
        found[profile.id] = profile
    return found


def load_profiles(user_dir: Path | str | None = None) -> dict[str, DeviceProfile]:
    """Built-in profiles plus those in ``user_dir`` (a user profile replaces a built-in one)."""
    profiles = _load_dir(BUILTIN_PROFILES_DIR)
    if user_dir is not None and Path(user_dir).is_dir():
        for profile_id, profile in _load_dir(Path(user_dir)).items():
            if profile_id in profiles:
                log.warning("modbus profile override: %s from %s", profile_id, user_dir)
            profiles[profile_id] = profile
    log.debug("modbus profiles loaded: %s", sorted(profiles))
    return profiles
