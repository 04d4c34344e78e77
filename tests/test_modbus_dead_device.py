"""A dead probe on a bus of eight must not delay the other seven beyond their timeout budget."""

from __future__ import annotations

import asyncio

from simulator.devices.modbus_physics import FridgeModel
from simulator.devices.modbus_scenarios import SimDevice
from tests.test_modbus_harness import running_rig

POLL_S = 0.5
TIMEOUT_S = 0.1
RETRIES = 1
# Worst case for a live device: it falls due just as the dead one starts its full
# attempt sequence, plus the frames of one other device (~25 ms at 9600 baud).
TIMEOUT_BUDGET_S = TIMEOUT_S * (1 + RETRIES) + 0.05


def test_dead_probe_does_not_starve_the_others() -> None:
    devices = [SimDevice(f"fridge-{n}", n, "xy-md02", "fridge", FridgeModel()) for n in range(1, 9)]

    async def scenario() -> None:
        async with running_rig(devices, kind="rtu", poll_s=POLL_S, timeout_s=TIMEOUT_S,
                               retries=RETRIES, backoff_max_s=2.0) as rig:
            rig.bus.set_offline(8)
            await asyncio.sleep(4.0)
            worker = rig.scheduler.workers[0]
            by_id = {d.id: d for d in worker.devices}

            for n in range(1, 8):
                times = by_id[f"fridge-{n}"].poll_times
                gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
                assert len(times) >= 7, (n, times)
                # Never later than the poll interval plus the dead device's timeout budget.
                assert max(gaps) <= POLL_S + TIMEOUT_BUDGET_S, (n, max(gaps))
                assert by_id[f"fridge-{n}"].counters.ok == len(times)

            dead = by_id["fridge-8"]
            assert dead.counters.ok == 0 and not rig.readings_of("fridge-8")
            assert dead.counters.timeouts >= 2
            assert dead.backed_off and dead.counters.polls < 7  # probed at growing intervals
            assert rig.states_of("fridge-8") == ["silent"]

            rig.bus.set_offline(8, False)  # it comes back: found again on a probe
            await rig.wait_for(lambda: rig.readings_of("fridge-8"), timeout_s=5)
            assert rig.states_of("fridge-8") == ["silent", "ok"]

    asyncio.run(scenario())
