"""The public surface is exactly what __init__ re-exports: a snapshot, so that adding or
dropping a name is a deliberate change of this file."""

from __future__ import annotations

import mollifier as ml

PUBLIC = {
    "AbstractDerivatives",
    "AbstractKernel",
    "AbstractSolver",
    "AutodiffDerivatives",
    "BOUNDARY_MODES",
    "Bump",
    "CheckpointMismatchError",
    "Constant",
    "DEFAULT_KERNEL",
    "Direct",
    "Extrapolate",
    "Field",
    "Gaussian",
    "Grid",
    "GridError",
    "Interior",
    "InverseProblem",
    "MLP",
    "MollifierDerivatives",
    "MollifierLayer",
    "Network",
    "MissingDataError",
    "NonAffineResidualError",
    "PINNsFormer",
    "PirateNet",
    "PolyBump",
    "Result",
    "Tikhonov",
    "TotalVariation",
    "TrainingDivergedError",
    "__version__",
    "derivative",
    "get_kernel",
    "refine_width",
    "stencil",
}


def test_all_is_exactly_the_public_surface_and_importable():
    assert set(ml.__all__) == PUBLIC
    assert len(ml.__all__) == len(PUBLIC)  # no duplicates
    for name in ml.__all__:
        assert hasattr(ml, name), name
    assert ml.__version__ != "0.0.0+unknown"


def test_solver_objects_are_the_inverse_packages():
    from mollifier.inverse import Direct, Network
    from mollifier.inverse.network import PirateNet

    assert ml.Direct is Direct and ml.Network is Network and ml.PirateNet is PirateNet
