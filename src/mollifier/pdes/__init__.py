"""Built-in problems: residuals of the paper's three systems (and Burgers) and their set-up.

Each residual follows the weak-form principle (every term mollified, nonlinear terms in
conservative form) and is a plain function ``residual(f, d, p)`` that runs with either derivative
backend. :func:`problem_from_dataset` turns a simulator's :class:`~mollifier.io.Dataset` into an
:class:`~mollifier.InverseProblem` with the right unknowns, known inputs and truth.
"""

from mollifier.pdes.builtin import BUILTIN_PROBLEMS, problem_from_dataset
from mollifier.pdes.residuals import (
    burgers,
    chromatin,
    heat_divergence,
    heat_steady,
    heat_transient,
    langevin,
    nonlinear_diffusion,
)

__all__ = [
    "BUILTIN_PROBLEMS",
    "burgers",
    "chromatin",
    "heat_divergence",
    "heat_steady",
    "heat_transient",
    "langevin",
    "nonlinear_diffusion",
    "problem_from_dataset",
]
