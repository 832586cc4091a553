"""Minibatches of tiles (``Network(batch=...)``): with every tile drawn the tiled loss and its
gradient equal the full-batch ones; averaged over every draw they equal them too (unbiased)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import mollifier as ml
from mollifier._options import OptionTypeError
from mollifier.config import ConfigError, solver_from_table
from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.network.model import FieldModel, grid_coordinates, network_channels
from mollifier.inverse.network.tiles import TiledLoss, derivative_depth, make_loss

H = 0.1


def pointwise(f, d, p):
    return p.lam * (d(f.u, "xx") + d(f.u, "yy")) + d(f.m)


def divergence(f, d, p):
    return d(p.lam * d(f.u, "x"), "x") + d(p.lam * d(f.u, "y"), "y") + d(d(f.m))


def transport(f, d, p):
    """3-D (t, x, y): a constant, a field over t only (a parameter, not a channel)."""
    return d(f.u, "t") - p.nu * (d(f.u, "xx") + d(f.u, "yy")) - p.s


def system(f, d, p):
    return {"u": d(f.u, "x") - p.c * d(f.v), "v": d(f.v, "yy") + p.lam * d(f.u**2 / 2, "y")}


def make_problem(shape, residual, *, boundary="reflect", width=0.35, mask=False, **extra):
    axes = "xy" if len(shape) == 2 else "txy"
    grid = ml.Grid(**{a: np.arange(n) * H for a, n in zip(axes, shape, strict=True)})
    mesh = grid.mesh()
    rng = np.random.default_rng(1)
    u = np.sin(2 * np.pi * mesh[-2] / (shape[-2] * H)) * np.cos(2 * np.pi * mesh[-1] / 1.3)
    u = u + 0.3 * mesh[0] + 0.01 * rng.standard_normal(shape)
    data = {"u": u}
    known = {"m": np.cos(mesh[-1] * 3.0) + mesh[0]}
    unknowns: dict = {"lam": ml.Field(axes=tuple(axes), positive=True)}
    if residual is transport:
        unknowns, known = {"nu": ml.Constant(init=0.7), "s": ml.Field(axes=("t",))}, {}
    if residual is system:
        data["v"] = np.cos(mesh[-1] * 2.0) * (1 + mesh[0])
        unknowns, known = {"c": ml.Constant(init=0.5), "lam": ml.Field(axes=tuple(axes))}, {}
    observed = None
    if mask:
        observed = rng.uniform(size=shape) > 0.3
        data = {k: np.where(observed, v, np.nan) for k, v in data.items()}
    return ml.InverseProblem(
        grid=grid,
        data=data,
        unknowns=unknowns,
        residual=residual,
        width=width,
        known=known,
        boundary=boundary,
        mask=observed,
        **extra,
    )


def build(problem, **options):
    """A float64 model and its full-batch and tiled losses (same network and weights)."""
    solver = ml.Network(arch=ml.MLP(hidden=12, depth=2), dtype="float64", batch=1, **options)
    torch.manual_seed(0)
    grid = problem.grid
    channels = network_channels(problem)
    net = solver.arch.build(
        in_features=grid.ndim,
        out_features=len(problem.data) + len(channels),
        lower=[grid.extent[a][0] for a in grid.axes],
        upper=[grid.extent[a][1] for a in grid.axes],
    )
    model = FieldModel(problem, net, channels).to(dtype=torch.float64)
    with torch.no_grad():  # parameters away from their initial values: non-trivial gradients
        for p in list(model.constants.values()) + list(model.grid_fields.values()):
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype))
    coords = grid_coordinates(problem, torch.float64, torch.device("cpu"))
    return (
        model,
        PhysicsLoss(problem, model, coords, solver),
        TiledLoss(problem, model, coords, solver),
    )


def value_and_grad(model, fn):
    model.zero_grad(set_to_none=True)
    loss, terms = fn()
    loss.backward()
    grads = [
        torch.zeros_like(p).reshape(-1) if p.grad is None else p.grad.reshape(-1)
        for p in model.parameters()
    ]
    return float(loss.detach()), terms, torch.cat(grads)


def assert_close(tiled, full, rtol=1e-10):
    (lt, tt, gt), (lf, tf, gf) = tiled, full
    assert abs(lt - lf) <= rtol * abs(lf), (lt, lf)
    for k in tf:
        assert abs(tt[k] - tf[k]) <= rtol * abs(tf[k]) + 1e-300, (k, tt[k], tf[k])
    assert float(torch.linalg.norm(gt - gf)) <= rtol * float(torch.linalg.norm(gf)), (
        float(torch.linalg.norm(gt - gf)),
        float(torch.linalg.norm(gf)),
    )


CASES = [
    # shape, residual, boundary, tile, options
    ((36, 33), pointwise, "reflect", 5, {}),
    ((36, 33), pointwise, "periodic", 7, {"field_regularization": 0.3}),
    ((36, 33), pointwise, "interior", 6, {}),
    ((36, 33), pointwise, "odd", 5, {"data_loss": "mollified"}),
    ((36, 33), pointwise, "extrapolate", 8, {}),
    ((36, 33), divergence, "reflect", 5, {"field_regularization": 0.1}),
    ((36, 33), divergence, "periodic", 4, {}),
    ((36, 33), divergence, "interior", 7, {"data_loss": "mollified"}),
    ((16, 18, 17), transport, "reflect", 4, {"field_regularization": 0.2}),
    ((16, 18, 17), transport, "periodic", 5, {}),
    ((16, 18, 17), divergence, "interior", 5, {}),
    ((30, 29), system, "periodic", 6, {"field_regularization": 0.05}),
]


@pytest.mark.parametrize(("shape", "residual", "boundary", "tile", "options"), CASES)
def test_every_tile_drawn_gives_the_full_loss_and_gradient(
    shape, residual, boundary, tile, options
):
    masked = residual is pointwise and "data_loss" not in options  # mollified needs every node
    problem = make_problem(shape, residual, boundary=boundary, mask=masked)
    model, full, tiled = build(problem, tile=tile, **options)
    assert tiled.tiling.count >= 4
    everything = np.arange(tiled.tiling.count)
    assert_close(
        value_and_grad(model, lambda: tiled.estimate(everything)), value_and_grad(model, full)
    )
    # node by node: the tiles' residual at their cores is the full grid's, edges included
    with torch.no_grad():
        r_full, _, _ = full.residual()
        r_tiles = tiled.residual_map(everything)
    r_full = r_full.reshape(r_tiles.shape)
    assert torch.isfinite(r_tiles).all()
    err = float((r_tiles - r_full).abs().max())
    assert err <= 1e-10 * float(r_full.abs().max()), err


@pytest.mark.parametrize("data_loss", ["pointwise", "mollified"])
def test_autodiff_derivatives_on_tiles_match_the_full_grid(data_loss):
    problem = make_problem((16, 15), pointwise, boundary="periodic")
    model, full, tiled = build(
        problem, tile=4, derivatives="autodiff", data_loss=data_loss, field_regularization=0.2
    )
    assert tiled.tiling.depth == (data_loss == "mollified")
    everything = np.arange(tiled.tiling.count)
    assert_close(
        value_and_grad(model, lambda: tiled.estimate(everything)), value_and_grad(model, full)
    )


def test_the_average_over_every_draw_is_the_full_loss_and_gradient():
    """Exact enumeration: 9 tiles, 2 per step, all 36 draws equally likely."""
    problem = make_problem((18, 16), divergence, boundary="reflect")
    model, full, tiled = build(problem, tile=6, field_regularization=0.2)
    assert tiled.tiling.count == 9
    draws = list(itertools.combinations(range(9), 2))
    estimates = [value_and_grad(model, lambda t=t: tiled.estimate(np.array(t))) for t in draws]
    loss = np.mean([e[0] for e in estimates])
    grad = torch.stack([e[2] for e in estimates]).mean(0)
    terms = {k: np.mean([e[1][k] for e in estimates]) for k in estimates[0][1]}
    assert_close((loss, terms, grad), value_and_grad(model, full), rtol=1e-12)
    # ... while single draws scatter around it (the test could fail)
    spread = np.std([e[0] for e in estimates]) / loss
    assert spread > 1e-3, spread


def test_draws_are_seeded_distinct_and_uniform():
    problem = make_problem((36, 33), pointwise)
    _, _, tiled = build(problem, tile=9)
    tiling = tiled.tiling
    assert tiling.count == 4 * 4
    a = tiling.draw(6, seed=3, step=17)
    assert np.array_equal(a, tiling.draw(6, seed=3, step=17))
    assert not np.array_equal(a, tiling.draw(6, seed=3, step=18))
    assert not np.array_equal(a, tiling.draw(6, seed=4, step=17))
    assert len(set(a.tolist())) == 6
    counts = np.bincount(
        np.concatenate([tiling.draw(6, seed=0, step=s) for s in range(4000)]), minlength=16
    )
    expected = 4000 * 6 / 16  # 1500; binomial sd about 31
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected)), counts


def test_nesting_depth_of_residuals():
    assert derivative_depth(make_problem((16, 15), pointwise)) == 1
    assert derivative_depth(make_problem((16, 15), divergence)) == 2
    assert derivative_depth(make_problem((16, 15), system)) == 1


def test_halo_is_the_stencil_reach_per_nesting_level():
    problem = make_problem((60, 33), divergence, boundary="periodic")
    _, _, tiled = build(problem, tile=6)
    r = problem.layer.radius
    # x: two stencil radii per side; y (33 nodes) wraps onto the whole axis
    assert tiled.tiling.extended_shape == (6 + 4 * r["x"], 33)
    middle = tiled.tiling.axes[0].index[3].tolist()
    assert middle == list(range(18 - 2 * r["x"], 24 + 2 * r["x"]))
    first = sorted(tiled.tiling.axes[0].index[0].tolist())  # wraps around the periodic axis
    assert first[-2 * r["x"] :] == list(range(60 - 2 * r["x"], 60))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, ValueError),
        (-2, ValueError),
        (2.5, OptionTypeError),
        ("4", OptionTypeError),
        (True, OptionTypeError),
    ],
)
def test_batch_must_be_a_positive_integer(value, error):
    with pytest.raises(error, match="batch"):
        ml.Network(batch=value)


def test_tile_needs_batch_and_must_be_positive():
    with pytest.raises(ValueError, match="tile"):
        ml.Network(tile=4)
    with pytest.raises(ValueError, match="tile must be >= 1"):
        ml.Network(batch=2, tile=0)


def test_batch_larger_than_the_tile_count_is_refused():
    problem = make_problem((36, 33), pointwise)
    with pytest.raises(ValueError, match="exceeds the 16 tiles"):
        problem.solve(ml.Network(batch=17, tile=9, steps=1))


def test_full_batch_uses_the_plain_loss():
    problem = make_problem((16, 15), pointwise)
    model, full, _ = build(problem)
    coords = full.coords
    assert type(make_loss(problem, model, coords, ml.Network())) is PhysicsLoss


def test_toml_solver_table_reaches_batch_and_tile():
    solver = solver_from_table({"method": "network", "batch": 4, "tile": 8})
    assert (solver.batch, solver.tile) == (4, 8)
    with pytest.raises(ConfigError, match="batch"):
        solver_from_table({"method": "network", "batch": 0})


def test_training_with_tiles_is_seeded_and_resumes_exactly(tmp_path):
    problem = make_problem((36, 33), pointwise, boundary="periodic")
    solver = ml.Network(
        arch=ml.MLP(hidden=8, depth=2), steps=12, batch=3, tile=6, log_every=1, read_off=False
    )
    a = problem.solve(solver)
    b = problem.solve(solver)
    assert a.history["loss"] == b.history["loss"]
    assert a.config["batch"] == 3 and a.config["tile"] == 6
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Interrupted):
        problem.solve(solver, checkpoint=ckpt, checkpoint_every=6, callbacks=[_StopAt(6)])
    c = problem.solve(solver, checkpoint=ckpt, resume=True)
    assert c.diagnostics["resumed_at_step"] == 6
    np.testing.assert_array_equal(c.unknowns["lam"], a.unknowns["lam"])


def test_without_a_step_the_tiled_loss_is_the_full_batch_loss():
    """What the L-BFGS polish (which calls ``loss()``) descends."""
    problem = make_problem((16, 15), pointwise, boundary="periodic")
    model, full, tiled = build(problem, tile=4)
    assert value_and_grad(model, tiled)[0] == value_and_grad(model, full)[0]
    assert value_and_grad(model, lambda: tiled(step=0))[0] != value_and_grad(model, full)[0]
    solver = ml.Network(
        arch=ml.MLP(hidden=8, depth=2), steps=4, batch=2, tile=4, lbfgs_steps=3, read_off=False
    )
    res = problem.solve(solver)
    assert res.history["step"][-1] == 4 + 3 and np.isfinite(res.history["loss"]).all()


class _Interrupted(Exception):
    pass


class _StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def before_step(self, step: int) -> None:
        if step == self.at:
            raise _Interrupted
