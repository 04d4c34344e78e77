"""Constrained number types for every config model (the drivers' and the agent's).

A value the config accepts must be one the code it feeds can use: MQTT packs session
expiry in 32 bits and keepalive in 16, ``threading`` waits refuse timeouts beyond
``threading.TIMEOUT_MAX``, ``int(inf)`` and ``timedelta(days=10**10)`` raise, termios
refuses a baud rate of 2**40. So each kind of number gets the bounds of its consumer
here, once, and the models say which kind a field is. Floats are finite everywhere:
the config bases set ``allow_inf_nan=False`` (``FINITE``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

# merged into each config base's model_config: .inf and .nan are never a setting
FINITE = ConfigDict(allow_inf_nan=False)

# Ten years: longer than any duration the agent needs, far below threading.TIMEOUT_MAX
# and datetime's range, so every duration can be slept on and added to a timestamp.
MAX_DURATION_S = 10 * 366 * 86400
MAX_DAYS = 100 * 366  # record retention and the like: a century is already absurd

U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1

# --- network -----------------------------------------------------------------------------
Port = Annotated[int, Field(ge=1, le=U16_MAX)]
# MQTT: Session Expiry Interval is a four-byte integer (MQTT 5, 3.3.2.3.2)
MqttSessionExpiry = Annotated[int, Field(ge=0, le=U32_MAX)]
# MQTT: Keep Alive is a two-byte integer (3.1.2.10)
MqttKeepalive = Annotated[int, Field(ge=0, le=U16_MAX)]
# MQTT: Receive Maximum is a two-byte integer, 0 is a protocol error (3.1.2.11.3)
MqttReceiveMaximum = Annotated[int, Field(ge=1, le=U16_MAX)]

# --- serial lines ---------------------------------------------------------------------------
# Standard rates from 50 Bd to 4 MBd (the fastest USB-serial adapters); termios refuses more.
Baudrate = Annotated[int, Field(ge=50, le=4_000_000)]

# --- time ------------------------------------------------------------------------------------
Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_S)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_DURATION_S)]
Minutes = Annotated[float, Field(ge=0, le=MAX_DURATION_S / 60)]
PositiveMinutes = Annotated[float, Field(gt=0, le=MAX_DURATION_S / 60)]
PositiveHours = Annotated[float, Field(gt=0, le=MAX_DURATION_S / 3600)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
PositiveDays = Annotated[int, Field(ge=1, le=MAX_DAYS)]

# --- sizes and counts ---------------------------------------------------------------------------
# a budget beyond 1 PB is a typo; it is multiplied into bytes with int()
Megabytes = Annotated[float, Field(gt=0, le=2**30)]
# counts of things held in memory or in one transaction (batch sizes, frames to agree ...)
Count = Annotated[int, Field(ge=1, le=2**31 - 1)]

# --- temperatures -------------------------------------------------------------------------------
Celsius = Annotated[float, Field(ge=-273.15, le=1000)]


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"range is inverted: low {value[0]:g} is above high {value[1]:g}")
    return value


# (low, high), inclusive; an inverted range would judge every reading out of range
CelsiusRange = Annotated[tuple[Celsius, Celsius], AfterValidator(_ordered)]
