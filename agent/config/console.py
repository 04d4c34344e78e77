"""The console section: the kitchen console's station screens and manager pages."""

from __future__ import annotations

from pydantic import Field

from agent.config.base import Strict

DEFAULT_DAILY_CHECK = [
    "从业人员着装整洁、佩戴口罩帽子 / staff dressed, masks and hats on",
    "操作间地面、台面清洁 / floors and worktops clean",
    "生熟分开、容器标识清楚 / raw and cooked kept apart, containers labelled",
    "冰箱冷库温度正常、无过期食品 / fridges in range, nothing past its date",
    "防蝇防鼠设施完好 / fly and rodent screens intact",
    "垃圾桶加盖、及时清运 / bins covered and emptied",
]


class ConsoleConfig(Strict):
    """The kitchen console: station screens and the manager's pages (HTTP)."""

    enabled: bool = Field(True, description="Serve the console (station screens, manager pages).")
    host: str = Field("127.0.0.1", description="Listen address: loopback by default; the box's LAN "
                                               "address (or 0.0.0.0) for tablets and phones.")
    port: int = Field(8080, ge=0, le=65535, description="0: any free port (tests, the demo).")
    session_idle_min: float = Field(15, ge=1, le=24 * 60, description="A manager idle this long logs in again.")
    login_attempts: int = Field(5, ge=1, le=100, description="Failed logins per client and per user name ...")
    login_window_s: float = Field(300, ge=10, le=86400, description="... within this window; then refused.")
    upload_max_kb: int = Field(4096, ge=16, le=32768, description="Largest photo accepted.")
    screen_hold_s: float = Field(20, ge=2, le=600, description="A station screen shows a verdict this long, "
                                                             "then forgets the person.")
    daily_check_items: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DAILY_CHECK), min_length=1, max_length=60,
        description="常规日检: the canteen's checklist, one line per item.")
