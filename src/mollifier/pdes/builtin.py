"""Set up the built-in inverse problems from a simulator's (or a user's) dataset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mollifier.grid import Grid
from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.unknowns import Constant, Field
from mollifier.io.dataset import Dataset
from mollifier.pdes import residuals

__all__ = ["BUILTIN_PROBLEMS", "BUILTIN_RESIDUALS", "problem_from_dataset"]


def _truth(ds: Dataset, name: str) -> dict[str, Any]:
    return {name: ds.truth[name]} if name in ds.truth else {}


def _langevin(ds: Dataset, **options: Any) -> InverseProblem:
    if "k" not in ds.known:
        raise ValueError("a langevin dataset needs the known relaxation rate 'k'")
    return InverseProblem(
        grid=Grid(**ds.coords),
        data={"u": ds.fields["u"]},
        known={"k": ds.known["k"]},
        unknowns={"lam": Field(axes=("t",))},
        residual=residuals.langevin,
        truth=_truth(ds, "lam"),
        **options,
    )


def _heat(form: str) -> Callable[..., InverseProblem]:
    residual = {
        "steady": residuals.heat_steady,
        "divergence": residuals.heat_divergence,
        "transient": residuals.heat_transient,
        "3d-steady": residuals.heat3d_steady,
        "3d-divergence": residuals.heat3d_divergence,
    }[form]
    axes = ("x", "y", "z") if form.startswith("3d") else ("x", "y")

    def build(ds: Dataset, **options: Any) -> InverseProblem:
        if "m" not in ds.known:
            raise ValueError("a heat dataset needs the known source 'm'")
        return InverseProblem(
            grid=Grid(**ds.coords),
            data={"u": ds.fields["u"]},
            known={"m": ds.known["m"]},
            unknowns={"lam": Field(axes=axes, positive=True)},
            residual=residual,
            truth=_truth(ds, "lam"),
            **options,
        )

    return build


def _chromatin(ds: Dataset, **options: Any) -> InverseProblem:
    if ds.params.get("boundary") == "periodic":
        options.setdefault("boundary", "periodic")  # periodic data: every node is interior
    from mollifier.sim.chromatin import ChromatinModel

    params = ds.params.get("model", {}) if isinstance(ds.params.get("model"), dict) else {}
    model = ChromatinModel(**{k: params[k] for k in ("phi_max", "l", "l_w") if k in params})
    return InverseProblem(
        grid=Grid(**ds.coords),
        data={"phi_w": ds.fields["phi_w"], "phi_d": ds.fields["phi_d"]},
        unknowns={"lam": Field(axes=("x", "y"), positive=True, init=0.5)},
        residual=residuals.chromatin(model),
        truth=_truth(ds, "lam"),
        **options,
    )


def _burgers(ds: Dataset, **options: Any) -> InverseProblem:
    return InverseProblem(
        grid=Grid(**ds.coords),
        data={"u": ds.fields["u"]},
        unknowns={"nu": Constant(init=0.1, positive=True)},
        residual=residuals.burgers,
        truth=_truth(ds, "nu"),
        **options,
    )


def _nonlinear_diffusion(ds: Dataset, **options: Any) -> InverseProblem:
    return InverseProblem(
        grid=Grid(**ds.coords),
        data={"u": ds.fields["u"]},
        unknowns={"d0": Constant(init=0.1, positive=True), "beta": Constant(init=0.5)},
        residual=residuals.nonlinear_diffusion,
        truth={**_truth(ds, "d0"), **_truth(ds, "beta")},
        **options,
    )


BUILTIN_PROBLEMS: dict[str, Callable[..., InverseProblem]] = {
    "langevin": _langevin,
    "heat": _heat("steady"),
    "heat-divergence": _heat("divergence"),
    "heat-transient": _heat("transient"),
    "heat3d": _heat("3d-steady"),
    "heat3d-divergence": _heat("3d-divergence"),
    "chromatin": _chromatin,
    "burgers": _burgers,
    "nonlinear-diffusion": _nonlinear_diffusion,
}


#: Built-in problem name → the function of :mod:`mollifier.pdes.residuals` that is its residual
#: (``chromatin`` is a factory of the model's residual).
BUILTIN_RESIDUALS = {
    "langevin": "langevin",
    "heat": "heat_steady",
    "heat-divergence": "heat_divergence",
    "heat-transient": "heat_transient",
    "heat3d": "heat3d_steady",
    "heat3d-divergence": "heat3d_divergence",
    "chromatin": "chromatin",
    "burgers": "burgers",
    "nonlinear-diffusion": "nonlinear_diffusion",
}


def problem_from_dataset(ds: Dataset, problem: str | None = None, **options: Any) -> InverseProblem:
    """The built-in :class:`InverseProblem` for ``ds``.

    Parameters
    ----------
    ds : Dataset
    problem : str, optional
        One of :data:`BUILTIN_PROBLEMS` (``"langevin"``, ``"heat"``, ``"heat-divergence"``,
        ``"heat-transient"``, ``"heat3d"``, ``"heat3d-divergence"``, ``"chromatin"``,
        ``"burgers"``, ``"nonlinear-diffusion"``); default ``ds.equation`` (with ``"heat"``
        and ``"heat3d"`` meaning the paper's steady form unless the dataset was generated in
        another form, as :func:`mollifier.sim.simulate_heat` and
        :func:`~mollifier.sim.simulate_heat3d` record in ``params["form"]``).
    **options
        Passed to :class:`InverseProblem` (``width``, ``kernel``, ``boundary``, ``crop``, ...).
    """
    name = problem or ds.equation
    form = ds.params.get("form")
    if name in ("heat", "heat3d") and problem is None and form in ("divergence", "transient"):
        name = f"{name}-{form}"
    try:
        build = BUILTIN_PROBLEMS[name]
    except KeyError:
        raise ValueError(
            f"no built-in problem {name!r}; choose one of {sorted(BUILTIN_PROBLEMS)} or give a "
            "custom residual"
        ) from None
    missing_fields = {
        "langevin": ["u"],
        "heat": ["u"],
        "heat-divergence": ["u"],
        "heat-transient": ["u"],
        "heat3d": ["u"],
        "heat3d-divergence": ["u"],
        "chromatin": ["phi_w", "phi_d"],
        "burgers": ["u"],
        "nonlinear-diffusion": ["u"],
    }[name]
    absent = [f for f in missing_fields if f not in ds.fields]
    if absent:
        raise ValueError(
            f"the {name!r} problem needs observed fields {absent}, which the dataset "
            f"lacks (it has {sorted(ds.fields)})"
        )
    if ds.mask is not None and "mask" not in options:
        options["mask"] = ds.mask
    return build(ds, **options)
