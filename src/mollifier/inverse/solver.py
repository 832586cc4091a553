"""The interface every solver object implements: ``problem.solve(solver)`` calls
``solver.solve(problem)``.

The problem never imports a solver module; solvers (:class:`~mollifier.inverse.direct.Direct`,
:class:`~mollifier.inverse.network.Network`) import the problem.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem
    from mollifier.inverse.result import Result

__all__ = ["AbstractSolver", "register_width_refiner"]

#: The refinement ``width="auto"`` applies after the spectral rule; the direct solver's module
#: registers :func:`~mollifier.inverse.direct.refine_width` here when it is imported (always,
#: through :mod:`mollifier.inverse`), so the problem calls it without importing a solver module.
_width_refiner: list[Callable[[InverseProblem], InverseProblem]] = []


def register_width_refiner(refiner: Callable[[InverseProblem], InverseProblem]) -> None:
    """Set the function that refines spectral widths (one at a time; the last one counts)."""
    _width_refiner[:] = [refiner]


def refine_auto_width(problem: InverseProblem) -> InverseProblem:
    """``problem`` refined by the registered refiner, or unchanged if none is registered."""
    return _width_refiner[0](problem) if _width_refiner else problem


class AbstractSolver(abc.ABC):
    """A frozen, validated description of how to solve an :class:`~mollifier.InverseProblem`.

    Its fields are the options that change the answer; :meth:`solve` takes, as keyword
    arguments, the run-time options that do not (progress bars, checkpoint files).
    """

    @abc.abstractmethod
    def solve(self, problem: InverseProblem, **run: Any) -> Result:
        """Estimate ``problem``'s unknowns."""
