"""Forward simulators that make gridded data with known ground truth.

* :func:`simulate_langevin` — ensemble mean of overdamped Langevin particles (1st order in time);
* :func:`simulate_heat` — steady/divergence/transient heat conduction with a varying λ(x, y);
* :func:`simulate_heat3d` — steady heat conduction in a box with a varying λ(x, y, z);
* :func:`simulate_nonlinear_diffusion` — 1-D diffusion with ``D(u) = D₀ exp(βu)`` (unknowns that
  enter non-affinely);
* :func:`simulate_chromatin` — the 4th-order chromatin phase-field model at steady state
  (time stepping set by :class:`Stepping`; :func:`pattern_statistics` compares its patterns).

Random ground-truth λ fields are one object for every simulator: :class:`LognormalLambda`.

Each returns a :class:`mollifier.io.Dataset` with the observed (noisy) fields, the clean fields and
the true parameters.
"""

from mollifier.sim.chromatin import (
    ChromatinModel,
    InitialNoise,
    InitialNuclei,
    SimulationDivergedError,
    SteadyStateNotReachedError,
    Stepping,
    simulate_chromatin,
    steady_state_residual,
)
from mollifier.sim.heat import (
    HEAT_LAMBDA,
    SteadySolution,
    simulate_heat,
    solve_steady,
    solve_transient,
)
from mollifier.sim.heat3d import HEAT3D_LAMBDA, simulate_heat3d, solve_steady_3d
from mollifier.sim.langevin import (
    AbstractForcing,
    RandomForcing,
    SineForcing,
    StepForcing,
    langevin_mean_ode,
    simulate_langevin,
)
from mollifier.sim.noise import (
    AbstractNoise,
    GaussianNoise,
    NoNoise,
    OutlierNoise,
    PoissonNoise,
    block_mask,
    gap_mask,
    noise_from_dict,
    random_mask,
    strided_mask,
)
from mollifier.sim.nonlinear_diffusion import (
    ExponentialDiffusivity,
    simulate_nonlinear_diffusion,
    solve_nonlinear_diffusion,
)
from mollifier.sim.patterns import pattern_statistics
from mollifier.sim.random_fields import LognormalLambda, gaussian_random_field, lognormal_field

__all__ = [
    "HEAT3D_LAMBDA",
    "HEAT_LAMBDA",
    "AbstractForcing",
    "AbstractNoise",
    "ChromatinModel",
    "ExponentialDiffusivity",
    "GaussianNoise",
    "InitialNoise",
    "InitialNuclei",
    "LognormalLambda",
    "NoNoise",
    "OutlierNoise",
    "PoissonNoise",
    "RandomForcing",
    "SimulationDivergedError",
    "SineForcing",
    "SteadySolution",
    "SteadyStateNotReachedError",
    "StepForcing",
    "Stepping",
    "block_mask",
    "gap_mask",
    "gaussian_random_field",
    "langevin_mean_ode",
    "lognormal_field",
    "noise_from_dict",
    "pattern_statistics",
    "random_mask",
    "simulate_chromatin",
    "simulate_heat",
    "simulate_heat3d",
    "simulate_langevin",
    "simulate_nonlinear_diffusion",
    "solve_nonlinear_diffusion",
    "solve_steady",
    "solve_steady_3d",
    "solve_transient",
    "steady_state_residual",
    "strided_mask",
]
