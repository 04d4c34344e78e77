"""What every ``canteen-agent`` subcommand module shares: the default config path, exit codes, loading."""

from __future__ import annotations

import os
import sys

from agent.config import AgentConfig
from agent.config_loader import ConfigError, load_config

DEFAULT_CONFIG = os.environ.get("CANTEEN_CONFIG", "/etc/canteen-agent/agent.yaml")
EXIT_INVALID_CONFIG = 2


def load_or_exit(path: str) -> AgentConfig:
    """The config, or exit 2 with the error on stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(EXIT_INVALID_CONFIG) from None
