"""Signed remote updates with automatic rollback (docs/PLATFORM.md §12).

The platform's ``update`` command names a package (the project's own ``.deb``: version,
sha256, size, a signature by the release key, and where to fetch it: MQTT chunks or
HTTPS). The agent fetches it within a byte budget, resumably, checks size, hash and
signature, unpacks the package's virtual environment beside the running one
(``<releases>/<version>/venv``: the old one is kept), checks that the new version runs
and accepts the config, points ``<releases>/current`` at it and restarts into it through
the packaged launcher (``systemd/canteen-agent-launch``). The new version is on trial:
it commits itself once it is healthy (store opened and migrated, uplink connected and a
record of its own acknowledged by the platform, every component running) within
``update.trial_s``; otherwise it points ``current`` back, restarts into the old
version, and that one reports ``update_rolled_back``. The launcher undoes a release that
cannot even start.
"""
