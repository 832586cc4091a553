"""Shared test configuration."""

from __future__ import annotations

import os

import torch

# Under pytest-xdist every worker gets one intra-op thread, so workers do not oversubscribe the
# cores (two workers x two threads on a 2-core machine made CPU-bound tests several times slower).
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
