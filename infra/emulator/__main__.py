"""`python -m infra.emulator`: see server.py."""

import sys

from infra.emulator.server import main

sys.exit(main())
