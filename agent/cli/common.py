"""What every ``canteen-agent`` subcommand module shares: the default config path, exit codes, loading."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from agent.config_file.loader import ConfigError, load_config
from agent.config_file.model import AgentConfig

DEFAULT_CONFIG = os.environ.get("CANTEEN_CONFIG", "/etc/canteen-agent/agent.yaml")
EXIT_INVALID_CONFIG = 2
EXIT_NO_STORE = 3  # a read-only command found no agent store where it looked


def load_or_exit(path: str) -> AgentConfig:
    """The config, or exit 2 with the error on stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(EXIT_INVALID_CONFIG) from None


def require_agent_store(path: Path) -> None:
    """Exit with a clear message unless ``path`` is an existing agent store, so a mistyped
    path does not become an empty store that reports "open alarms: 0"."""
    from agent.store import store_problem

    problem = store_problem(path)
    if problem is None:
        return
    if not path.is_file():
        problem += ": the agent has not run with this config, or --db / --config points elsewhere"
    fail_store(problem)


def fail_store(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(EXIT_NO_STORE)
