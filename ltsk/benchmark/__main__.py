"""Entry point of ``python -m ltsk.benchmark``."""

import sys

from ltsk.benchmark._cli import main

if __name__ == "__main__":
    sys.exit(main())
