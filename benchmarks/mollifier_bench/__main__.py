"""``python -m mollifier_bench [options]``: run a benchmark tier (:mod:`mollifier_bench.cli`)."""

import sys

from mollifier_bench.cli import main

sys.exit(main())
