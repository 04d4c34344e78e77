"""The public side's process (``python -m agent.wiring.public_child``), started by the agent
(``agent.public.process``): it reads its start-up from stdin, lowers its CPU priority,
opens the store read-only and serves the public pages on the socket it was handed.

Here, in the wiring, because only the wiring may open the store; the pages get it typed as
``Reads`` and the social end's notes, and write nothing but through the door to the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config_file.model import AgentConfig
    from agent.video.live import LiveHub


def main() -> None:
    boot: dict[str, Any] = pickle.load(sys.stdin.buffer)  # from the agent that started us
    if boot["nice"]:
        os.nice(boot["nice"])  # a public, untrusted surface: the stations come first
    logging.basicConfig(level=boot["log_level"], stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s [public process]: %(message)s")
    from agent.public.app import serve
    from agent.public.context import Public
    from agent.public.door import Door
    from agent.social.counters import Refusals
    from agent.store.reader import StoreReader

    config: AgentConfig = boot["config"]
    store = StoreReader(boot["store_path"], boot["media_dir"])
    door = Door(socket.socket(fileno=boot["door_fd"]))
    live = _live(config)
    public = Public.create(config, store, store, door, Refusals(boot["refusals_fd"]), live)
    sock = socket.socket(fileno=boot["listen_fd"])
    try:
        asyncio.run(serve(public, sock, boot["parent_pid"]))
    finally:
        if live is not None:
            live.close()
        store.close()


def _live(config: AgentConfig) -> LiveHub | None:
    """The cameras shown live: FFmpeg runs here, in this process, at its priority."""
    cfg = config.public
    if not cfg.live_cameras:
        return None
    from agent.video.live import LiveHub, LiveLimits

    urls = {c.id: c.url for c in config.cameras if c.id in cfg.live_cameras}
    return LiveHub(urls, LiveLimits(cfg.live_fps, cfg.live_max_side, cfg.live_viewers_per_camera,
                                    cfg.live_viewers_total))


if __name__ == "__main__":
    main()
