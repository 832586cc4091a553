"""The public surface is exactly what __init__ re-exports."""

from __future__ import annotations

import mollifier as ml


def test_all_is_explicit_and_importable():
    expected = {
        "BOUNDARY_MODES",
        "DEFAULT_KERNEL",
        "AbstractDerivatives",
        "AbstractKernel",
        "AutodiffDerivatives",
        "Bump",
        "Extrapolate",
        "Gaussian",
        "Grid",
        "GridError",
        "MollifierDerivatives",
        "MollifierLayer",
        "PolyBump",
        "__version__",
        "derivative",
        "get_kernel",
        "stencil",
    }
    assert set(ml.__all__) >= expected
    for name in ml.__all__:
        assert hasattr(ml, name), name
    assert ml.__version__ != "0.0.0+unknown"
