"""``python -m agent`` is ``canteen-agent`` (with every capability's subcommands)."""

import sys

from agent.cli.main import main

sys.exit(main())
