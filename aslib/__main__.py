"""``python -m aslib``: the command line (:mod:`aslib.cli`), the same as the ``aslib`` command."""
import sys

from aslib.cli import main

if __name__ == "__main__":
    sys.exit(main())
