"""The installed agent's version (from the package metadata)."""

from importlib.metadata import PackageNotFoundError, version


def agent_version() -> str:
    try:
        return version("canteen-agent")
    except PackageNotFoundError:
        return "0+unknown"
