"""``python -m mollifier``: the ``mollifier`` command (:func:`mollifier.cli.main`)."""

import sys

from mollifier.cli import main

if __name__ == "__main__":
    sys.exit(main())
