"""``python -m components.pinterest.emulator``: run the Pinterest emulator."""

from __future__ import annotations

import sys

from components.pinterest.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
