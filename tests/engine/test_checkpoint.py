"""What a checkpoint pins of the residual function (mollifier._checkpoint.residual_identity)."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys

from mollifier._checkpoint import residual_identity
from mollifier.pdes import residuals
from mollifier.sim import ChromatinModel

_IN_ANOTHER_PROCESS = (
    "from mollifier._checkpoint import residual_identity\n"
    "from mollifier.pdes import residuals\n"
    "from mollifier.sim import ChromatinModel\n"
    "print(residual_identity(residuals.chromatin(ChromatinModel(l=0.05))))\n"
)


def test_a_closure_is_named_with_what_it_captured() -> None:
    ident = residual_identity(residuals.chromatin(ChromatinModel(l=0.05, phi_max=0.8)))
    assert ident == (
        f"mollifier.pdes.residuals.chromatin.<locals>.residual[l2={0.05**2!r}, phi_max=0.8]"
    )
    assert residual_identity(residuals.heat_steady) == "mollifier.pdes.residuals.heat_steady"
    assert residual_identity(residuals.heat_steady) != residual_identity(residuals.heat_divergence)


def test_the_identity_is_the_same_in_another_process() -> None:
    """No memory addresses: a checkpoint made by one process resumes in the next."""
    out = subprocess.run(
        [sys.executable, "-c", _IN_ANOTHER_PROCESS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == residual_identity(residuals.chromatin(ChromatinModel(l=0.05)))


def _scaled(f: object, d: object, p: object, *, scale: float, inner: object = None) -> float:
    return scale


@dataclasses.dataclass
class _Residual:
    rate: float

    def __call__(self, f: object, d: object, p: object) -> float:
        return self.rate


class _Opaque:
    def __call__(self, f: object, d: object, p: object) -> float:
        return 0.0


def test_partials_objects_and_captured_callables() -> None:
    one = functools.partial(_scaled, scale=1.0, inner=residuals.burgers)
    two = functools.partial(_scaled, scale=2.0, inner=residuals.burgers)
    assert "scale=1.0" in residual_identity(one) and residual_identity(one) != residual_identity(
        two
    )
    assert "inner=mollifier.pdes.residuals.burgers" in residual_identity(one)  # not its address
    assert residual_identity(_Residual(1.0)).endswith("_Residual(_Residual(rate=1.0))")
    assert residual_identity(_Residual(1.0)) != residual_identity(_Residual(2.0))
    # a callable object without its own repr: its class, without the address object.__repr__ has
    assert residual_identity(_Opaque()) == f"{__name__}._Opaque"
    assert " at 0x" not in residual_identity(lambda f, d, p: one)


def test_bound_methods_and_self_reference() -> None:
    assert residual_identity(_Residual(1.0).__call__) != residual_identity(_Residual(2.0).__call__)

    def recursive(f: object, d: object, p: object, depth: int = 0) -> object:
        return recursive(f, d, p, depth + 1) if depth < 1 else 0.0

    ident = residual_identity(recursive)
    assert ident.endswith("recursive[recursive=<recursive>]")
