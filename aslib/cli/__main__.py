"""``python -m aslib.cli``: the command line."""
import sys

from aslib.cli import main

if __name__ == "__main__":
    sys.exit(main())
