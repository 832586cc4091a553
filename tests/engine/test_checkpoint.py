"""What a checkpoint pins of the residual function (checkpoint.residual_identity)."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys

import numpy as np

from mollifier.inverse.network.checkpoint import residual_identity
from mollifier.pdes import residuals
from mollifier.sim import ChromatinModel

_IN_ANOTHER_PROCESS = (
    "from mollifier.inverse.network.checkpoint import residual_identity\n"
    "from mollifier.pdes import residuals\n"
    "from mollifier.sim import ChromatinModel\n"
    "print(residual_identity(residuals.chromatin(ChromatinModel(l=0.05))))\n"
)

_CAPTURES = """
import numpy as np, torch
from mollifier.inverse.network.checkpoint import residual_identity
lam = np.random.default_rng().uniform(size=3)  # unseeded: differs in every process
def make():
    names = {"phi_w", "phi_d", "lam", "mu"}
    specs = [("xx", {"a", "b", "c", "d"})]
    index = dict.fromkeys({"x", "y", "t", "z"})
    weights = np.linspace(0, 1, 2000)
    scale = torch.arange(5.0)
    half = torch.ones(3, dtype=torch.bfloat16)
    labels = np.array(["xx", "yy"], dtype=object)
    def residual(f, d, p):
        return names, specs, index, weights, scale, half, labels, p.lam  # p.lam: no global
    return residual
print(residual_identity(make()))
"""


def _source_digest(path: object) -> str:
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(str(path)).read_bytes()).hexdigest()[:16]


def test_a_closure_is_named_with_what_it_captured() -> None:
    digest = _source_digest(residuals.__file__)
    ident = residual_identity(residuals.chromatin(ChromatinModel(l=0.05, phi_max=0.8)))
    assert ident == (
        f"mollifier.pdes.residuals.chromatin.<locals>.residual[l2={0.05**2!r}, phi_max=0.8]"
        f"#{digest}"
    )
    heat = residual_identity(residuals.heat_steady)
    assert heat == f"mollifier.pdes.residuals.heat_steady#{digest}"
    assert heat != residual_identity(residuals.heat_divergence)


def test_the_identity_is_the_same_in_another_process() -> None:
    """No memory addresses: a checkpoint made by one process resumes in the next."""
    out = subprocess.run(
        [sys.executable, "-c", _IN_ANOTHER_PROCESS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == residual_identity(residuals.chromatin(ChromatinModel(l=0.05)))


def test_captured_sets_and_arrays_do_not_depend_on_the_process() -> None:
    """A set's order follows the hash seed and an array's repr the print options (and elides
    large arrays): sets are sorted, arrays and tensors hashed."""
    idents = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _CAPTURES], capture_output=True, text=True, check=True, env=env
        )
        idents.add(out.stdout.strip())
    (ident,) = idents
    assert "set('lam', 'mu', 'phi_d', 'phi_w')" in ident
    assert "specs=list(tuple('xx', set('a', 'b', 'c', 'd')))" in ident
    assert "labels=ndarray(list('xx', 'yy'))" in ident
    assert "half=Tensor(shape=(3,), dtype=float32, sha256=" in ident
    assert "lam=" not in ident  # the attribute p.lam is not the module's random global lam
    assert "weights=ndarray(shape=(2000,), dtype=float64, sha256=" in ident
    assert "scale=Tensor(shape=(5,), dtype=float32, sha256=" in ident
    weights = np.linspace(0, 1, 2000)

    def residual(f: object, d: object, p: object) -> object:
        return weights

    before = residual_identity(residual)
    weights[1000] += 1e-9  # hidden by the elided repr, not by the hash
    assert residual_identity(residual) != before
    with np.printoptions(precision=3):
        weights[1000] -= 1e-9
        assert residual_identity(residual) == before


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


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
    assert "_Residual(_Residual(rate=1.0))#" in residual_identity(_Residual(1.0))
    assert residual_identity(_Residual(1.0)) != residual_identity(_Residual(2.0))
    # a callable object without its own repr: its class, without the address object.__repr__ has
    assert residual_identity(_Opaque()) == f"{__name__}._Opaque#{_source_digest(__file__)}"
    assert " at 0x" not in residual_identity(lambda f, d, p: one)


def test_bound_methods_and_self_reference() -> None:
    assert residual_identity(_Residual(1.0).__call__) != residual_identity(_Residual(2.0).__call__)

    def recursive(f: object, d: object, p: object, depth: int = 0) -> object:
        return recursive(f, d, p, depth + 1) if depth < 1 else 0.0

    ident = residual_identity(recursive)
    assert "recursive[recursive=<recursive>]#" in ident
    broken = _BrokenRepr()

    def uses_broken(f: object, d: object, p: object) -> object:
        return broken

    assert "[broken=<_BrokenRepr>]#" in residual_identity(uses_broken)  # no crash


_RESIDUAL_FILE = """
import math

NU = {nu}


def residual(f, d, p):
    return d(f.u, "t") - NU * d(f.u, "xx") + 0 * math.pi
"""


def test_a_residual_file_is_identified_by_its_source(tmp_path) -> None:
    """A config's ``residual = "my_pde.py:residual"``: editing the file (a module-level constant
    here) makes another problem; loading the same file again does not."""
    from mollifier.config import load_residual

    path = tmp_path / "my_pde.py"
    path.write_text(_RESIDUAL_FILE.format(nu=0.1))
    first = residual_identity(load_residual(f"{path}:residual"))
    assert first == f"my_pde.residual#{_source_digest(path)}"
    assert residual_identity(load_residual(f"{path}:residual")) == first  # loaded again
    path.write_text(_RESIDUAL_FILE.format(nu=0.2))
    assert residual_identity(load_residual(f"{path}:residual")) != first


def test_a_function_without_a_source_file_is_identified_by_its_code() -> None:
    """A residual typed at a prompt has no file: its compiled code and constants stand in."""
    namespace: dict[str, object] = {}
    exec("def residual(f, d, p):\n    return 0.1 * f.u\n", namespace)
    one = residual_identity(namespace["residual"])  # type: ignore[arg-type]
    exec("def residual(f, d, p):\n    return 0.2 * f.u\n", namespace)
    assert residual_identity(namespace["residual"]) != one  # type: ignore[arg-type]
    assert one.startswith("builtins.residual#") and len(one.split("#")[1]) == 16
