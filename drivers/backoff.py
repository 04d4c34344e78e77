"""One bounded back-off for every retry loop (ports, buses, cameras, the broker, components).

The delay before attempt ``n`` (0-based) is ``initial_s * factor**n`` capped at ``max_s``,
with optional jitter so a fleet does not reconnect in lockstep. It is computed without
ever raising: after 10,000 failures (days of a dead broker or an unplugged cable) the
delay is simply ``max_s``; a naive ``initial * 2 ** n`` overflows a float at ``n`` = 1024.

Lives in ``drivers`` because drivers may import nothing from ``agent``; it depends on
nothing but the standard library.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between retries: initial, growing by ``factor``, capped at ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.0  # 0.5: each delay is drawn from [50 %, 100 %] of the nominal one

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The delay before retry ``attempt`` (0 = the first retry); never above ``max_s``."""
        nominal = self._nominal(attempt)
        if self.jitter <= 0:
            return nominal
        return nominal * (1.0 - self.jitter * rand())

    def _nominal(self, attempt: int) -> float:
        if self.initial_s >= self.max_s or self.factor <= 1.0:
            return min(self.initial_s, self.max_s)
        # attempts past this one are at the cap: no power is ever taken that could overflow
        steps_to_cap = math.ceil(math.log(self.max_s / self.initial_s, self.factor))
        if attempt >= steps_to_cap:
            return self.max_s
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt))

    def delays(self) -> Iterator[float]:
        """Successive delays, for loops that restart the sequence after a success."""
        attempt = 0
        while True:
            yield self.delay(attempt)
            attempt += 1
