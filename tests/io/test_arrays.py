"""``.npz`` and MATLAB ``.mat`` (v5 and v7.3) readers: round trips, real data, rejected files."""

from __future__ import annotations

import doctest
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from mollifier.grid import Grid
from mollifier.io import arrays
from mollifier.io._gridding import FileFormatError
from mollifier.io.arrays import read_mat, read_npz

from .conftest import assert_message, garble, shared_file, truncate

# --- helpers --------------------------------------------------------------------------------


def write_mat73(path: Path, variables: Mapping[str, np.ndarray | str]) -> Path:
    """Write a MATLAB v7.3 file the way MATLAB lays it out.

    An HDF5 file with a 512-byte user block that holds the MATLAB text header (116 bytes of
    text, 8 bytes of subsystem offset, version 0x0200 and the endian indicator ``"IM"``); every
    variable is a dataset holding the *transpose* of the MATLAB array (MATLAB is column-major),
    tagged with a ``MATLAB_class`` attribute; complex arrays are compound ``(real, imag)``.
    """
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            if isinstance(value, str):
                data: np.ndarray = np.array([[ord(c) for c in value]], dtype=np.uint16)
                cls = "char"
            else:
                arr = np.asarray(value)
                arr = arr.reshape(1, -1) if arr.ndim < 2 else arr  # MATLAB has no 1-D arrays
                if np.iscomplexobj(arr):
                    data = np.empty(arr.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
                    data["real"], data["imag"] = arr.real, arr.imag
                else:
                    data = arr
                cls = "double" if arr.dtype.kind in "fc" else str(arr.dtype)
            ds = f.create_dataset(name, data=np.ascontiguousarray(data.T))
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
    text = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Fri Nov 27 00:00:00 2026 "
        b"HDF5 schema 1.00 ."
    )
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))
    return path


def _grid(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.linspace(-1.0, 1.0, 9)
    t = np.linspace(0.0, 2.0, 5)  # deliberately not square, so a missed transpose shows
    u = np.cos(np.pi * x)[:, None] * np.exp(-t)[None, :] + 0.01 * rng.normal(size=(9, 5))
    return x, t, u


# --- npz ------------------------------------------------------------------------------------


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["plain", "compressed"])
def test_npz_round_trip_takes_grid_shaped_arrays(tmp_path, rng, save):
    x, t, u = _grid(rng)
    v = u**2
    path = tmp_path / "d.npz"
    save(path, x=x, t=t, u=u, v=v, lam=np.array(0.5), mask=np.ones(u.shape, dtype=bool))
    coords, fields = read_npz(path, coords=("x", "t"))
    assert list(coords) == ["x", "t"]
    np.testing.assert_array_equal(coords["x"], x)
    np.testing.assert_array_equal(coords["t"], t)
    assert set(fields) == {"u", "v"}  # the scalar and the boolean mask are not fields
    np.testing.assert_array_equal(fields["u"], u)
    np.testing.assert_array_equal(fields["v"], v)
    assert fields["u"].dtype == np.float64
    only_u = read_npz(path, coords=("x", "t"), fields=("u",)).fields
    assert list(only_u) == ["u"]


def test_npz_decreasing_axis_is_reversed_with_its_fields(tmp_path, rng):
    x, t, u = _grid(rng)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, t=t[::-1], u=u[:, ::-1])
    coords, fields = read_npz(path, coords=("x", "t"))
    np.testing.assert_array_equal(coords["t"], t)
    np.testing.assert_array_equal(fields["u"], u)


def test_npz_float32_coordinates_with_round_off_are_accepted(tmp_path, rng):
    x, t, u = _grid(rng)
    path = tmp_path / "d.npz"
    np.savez(path, x=x.astype(np.float32), t=t.astype(np.float32), u=u.astype(np.float32))
    coords, fields = read_npz(path, coords=("x", "t"))
    assert Grid(**coords).spacing["x"] == pytest.approx(0.25, rel=1e-6)
    np.testing.assert_array_equal(fields["u"], u.astype(np.float32).astype(np.float64))


def _npz_case(arrays_: dict[str, object]) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        np.savez(path, **arrays_)
        return path

    return build


X, T = np.linspace(0, 1, 4), np.linspace(0, 1, 3)
U = np.arange(12.0).reshape(4, 3)


@pytest.mark.parametrize(
    ("build", "kwargs", "words"),
    [
        (_npz_case({"x": X, "u": U}), {}, ["['t']", "coords"]),
        (_npz_case({"x": X, "t": T, "u": U}), {"fields": ("w",)}, ["['w']", "not in the file"]),
        (_npz_case({"x": X, "t": T, "u": U[None]}), {"fields": ("u",)}, ["(1, 4, 3)", "(4, 3)"]),
        (_npz_case({"x": X, "t": T, "u": U.T}), {"fields": ("u",)}, ["another axis order"]),
        (_npz_case({"x": X, "t": T, "u": U.T}), {}, ["no array has the grid shape", "['u']"]),
        (_npz_case({"x": [0, 1, np.nan, 3], "t": T, "u": U}), {}, ["'x'", "nan"]),
        (_npz_case({"x": [0, 1, 2.5, 3], "t": T, "u": U}), {}, ["'x'", "not uniform"]),
        (_npz_case({"x": [0, 2, 1, 3], "t": T, "u": U}), {}, ["'x'", "increasing"]),
        (_npz_case({"x": np.ones((2, 2)), "t": T, "u": U}), {}, ["'x'", "vector"]),
        (_npz_case({"x": X, "t": T, "u": U + 1j * U}), {}, ["'u'", "complex", "imag"]),
        (_npz_case({"x": X, "t": T, "u": U.astype(str)}), {"fields": ("u",)}, ["not numeric"]),
        (_npz_case({"x": X, "t": T, "u": U > 3}), {"fields": ("u",)}, ["not numeric", "bool"]),
    ],
    ids=[
        "missing-coordinate",
        "missing-field",
        "3d-where-2d-expected",
        "transposed",
        "transposed-unnamed",
        "nan-coordinate",
        "non-uniform",
        "unsorted",
        "2d-coordinate",
        "complex",
        "strings",
        "boolean",
    ],
)
def test_npz_rejected_files_name_file_and_problem(tmp_path, build, kwargs, words):
    path = build(tmp_path / "bad.npz")
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(path, coords=("x", "t"), **kwargs)
    assert_message(excinfo, path, *words)


def test_npz_complex_with_negligible_imaginary_part_is_real(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, x=X, t=T, u=U + 1e-12j * np.ones_like(U))
    np.testing.assert_array_equal(read_npz(path, coords=("x", "t")).fields["u"], U)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["plain", "compressed"])
@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda p: truncate(p, 0.5), ["npz"]),
        (lambda p: truncate(p, 0.97), ["npz"]),
        (lambda p: garble(p, 0, 4), ["not an npz archive"]),
    ],
    ids=["truncated-half", "truncated-tail", "garbled-magic"],
)
def test_npz_corrupt_files(tmp_path, rng, save, damage, words):
    x, t, u = _grid(rng)
    path = tmp_path / "d.npz"
    save(path, x=x, t=t, u=u)
    damage(path)
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(path, coords=("x", "t"))
    assert_message(excinfo, path, *words)


def test_npz_corrupt_compressed_member(tmp_path, rng):
    x, t, u = _grid(rng)
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=x, t=t, u=u)
    garble(path, start=100, count=50)  # inside the first compressed member: zlib or CRC error
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(path, coords=("x", "t"))
    assert_message(excinfo, path, "corrupt")


def test_npz_refuses_npy_pickles_and_missing_files(tmp_path):
    npy = tmp_path / "a.npy"
    np.save(npy, U)
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(npy)
    assert_message(excinfo, npy, ".npy")
    pickled = tmp_path / "p.npz"
    np.savez(pickled, x=X, t=T, u=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(pickled, coords=("x", "t"), fields=("u",))
    assert_message(excinfo, pickled, "pickle")
    with pytest.raises(FileFormatError) as excinfo:
        read_npz(tmp_path / "none.npz")
    assert_message(excinfo, tmp_path / "none.npz", "not found")


# --- MATLAB ---------------------------------------------------------------------------------


def test_mat_v5_round_trip_row_and_column_coordinates(tmp_path, rng):
    x, t, u = _grid(rng)
    path = tmp_path / "d.mat"
    scipy.io.savemat(path, {"x": x.reshape(1, -1), "t": t.reshape(-1, 1), "u": u, "name": "run"})
    coords, fields = read_mat(path, coords=("x", "t"))
    assert list(fields) == ["u"]  # the char variable is skipped
    np.testing.assert_array_equal(coords["x"], x)
    np.testing.assert_array_equal(coords["t"], t)
    np.testing.assert_array_equal(fields["u"], u)


def test_mat73_helper_writes_what_scipy_recognises_as_v73(tmp_path):
    path = write_mat73(tmp_path / "d.mat", {"x": X})
    assert scipy.io.matlab.matfile_version(path) == (2, 0)
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert f["x"].shape == (4, 1)  # MATLAB's 1 x 4 row vector, stored transposed


def test_mat73_round_trip_matches_v5_and_undoes_the_transpose(tmp_path, rng):
    x, t, u = _grid(rng)
    v5 = tmp_path / "v5.mat"
    v73 = tmp_path / "v73.mat"
    scipy.io.savemat(v5, {"x": x, "t": t, "u": u})
    write_mat73(v73, {"x": x, "t": t, "u": u, "note": "ignored", "z": u + 0j})
    with h5py.File(v73, "r") as f:
        assert f["u"].shape == (5, 9)  # HDF5 holds u.T
    c5, f5 = read_mat(v5, coords=("x", "t"))
    c73, f73 = read_mat(v73, coords=("x", "t"))
    for a in ("x", "t"):
        np.testing.assert_array_equal(c73[a], c5[a])
    np.testing.assert_array_equal(f73["u"], u)
    np.testing.assert_array_equal(f73["u"], f5["u"])
    np.testing.assert_array_equal(f73["z"], u)  # complex with zero imaginary part -> real
    assert set(f73) == {"u", "z"}


def test_mat_one_axis_field_is_squeezed(tmp_path):
    path = tmp_path / "q.mat"
    t = np.linspace(0, 1, 6)
    scipy.io.savemat(path, {"t": t, "q": t**2})  # both stored as 1 x 6 matrices
    coords, fields = read_mat(path, coords=("t",))
    np.testing.assert_array_equal(coords["t"], t)
    np.testing.assert_array_equal(fields["q"], t**2)
    with pytest.raises(FileFormatError) as excinfo:
        read_mat(path, coords=("t",), fields=("q",), squeeze=False)
    assert_message(excinfo, path, "(1, 6)", "(6,)")


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_mat_rejected_variables(tmp_path, version):
    path = tmp_path / "bad.mat"
    variables = {"x": X, "t": T, "u": U, "cube": np.ones((4, 3, 2)), "label": "abc"}
    variables["w"] = U + 1j * U
    if version == "v5":
        scipy.io.savemat(path, variables)
    else:
        write_mat73(path, variables)
    cases = [
        ({"fields": ("nope",)}, ["['nope']", "not in the file", "cube"]),
        ({"fields": ("cube",)}, ["(4, 3, 2)", "(4, 3)"]),
        ({"fields": ("label",)}, ["label", "numeric"]),
        ({"fields": ("w",)}, ["'w'", "complex"]),
        ({"coords": ("x", "y")}, ["['y']", "coords"]),
    ]
    for kwargs, words in cases:
        with pytest.raises(FileFormatError) as excinfo:
            read_mat(path, **{"coords": ("x", "t"), **kwargs})
        assert_message(excinfo, path, *words)


@pytest.mark.parametrize(
    ("version", "damage"),
    [
        ("v5", lambda p: truncate(p, 0.5)),
        ("v5", lambda p: garble(p, 124, 4)),  # version and endian indicator
        ("v5", lambda p: garble(p, 128, 8)),  # first variable's tag
        ("v7.3", lambda p: truncate(p, 0.5)),
        ("v7.3", lambda p: garble(p, 512, 8)),  # HDF5 superblock signature
    ],
    ids=["v5-truncated", "v5-garbled-version", "v5-garbled-tag", "v73-truncated", "v73-garbled"],
)
def test_mat_corrupt_files(tmp_path, rng, version, damage):
    x, t, u = _grid(rng)
    path = tmp_path / "d.mat"
    if version == "v5":
        scipy.io.savemat(path, {"x": x, "t": t, "u": u})
    else:
        write_mat73(path, {"x": x, "t": t, "u": u})
    damage(path)
    with pytest.raises(FileFormatError) as excinfo:
        read_mat(path, coords=("x", "t"))
    assert_message(excinfo, path, "corrupt")


def test_mat73_without_h5py_names_the_extra(tmp_path, monkeypatch):
    path = write_mat73(tmp_path / "d.mat", {"x": X, "t": T, "u": U})
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError) as excinfo:
        read_mat(path, coords=("x", "t"))
    assert "pip install 'mollifier[io]'" in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_docstring_examples():
    result = doctest.testmod(arrays, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- the shared PDE-FIND Burgers data (Rudy et al. 2017, snagcliffs/PDE-FIND, commit 8691134) ---


@pytest.fixture(scope="module")
def burgers():
    path = shared_file("burgers.mat")
    return read_mat(path, coords=("x", "t"), fields=("usol",))


def test_burgers_layout_and_uniform_grid(burgers):
    coords, fields = burgers
    x, t, u = coords["x"], coords["t"], fields["usol"]
    assert x.shape == (256,) and t.shape == (101,) and u.shape == (256, 101)
    grid = Grid(**coords)
    dx, dt = grid.spacing["x"], grid.spacing["t"]
    assert dx == pytest.approx(16 / 256, rel=1e-12) and dt == pytest.approx(0.1, rel=1e-12)
    assert np.max(np.abs(np.diff(x) - dx)) < 1e-12 and np.max(np.abs(np.diff(t) - dt)) < 1e-12
    # x covers [-8, 8) (periodic: 8 itself is not stored), t covers [0, 10].
    assert x[0] == pytest.approx(-8.0) and x[-1] + dx == pytest.approx(8.0)
    assert (t[0], t[-1]) == pytest.approx((0.0, 10.0))
    assert u.dtype == np.float64


def test_burgers_refuses_to_drop_imaginary_parts_above_tolerance():
    # usol is complex128 with imaginary parts ~1e-8: fine at the default 1e-6, refused at 1e-12.
    path = shared_file("burgers.mat")
    with pytest.raises(FileFormatError) as excinfo:
        read_mat(path, coords=("x", "t"), fields=("usol",), imag_rtol=1e-12)
    assert_message(excinfo, path, "'usol'", "complex")


def test_burgers_initial_condition_is_a_gaussian_and_mass_is_conserved(burgers):
    # PDE-FIND's Burgers notebook: "a single travelling wave, starting out as a Gaussian".
    coords, fields = burgers
    x, u = coords["x"], fields["usol"]
    u0 = u[:, 0]
    keep = u0 > 1e-3
    c2, c1, c0 = np.polyfit(x[keep], np.log(u0[keep]), 2)
    assert np.max(np.abs(np.polyval([c2, c1, c0], x[keep]) - np.log(u0[keep]))) < 1e-9
    centre, sigma2, amplitude = -c1 / (2 * c2), -1 / (2 * c2), np.exp(c0 - c1**2 / (4 * c2))
    gaussian = amplitude * np.exp(-((x - centre) ** 2) / (2 * sigma2))
    np.testing.assert_allclose(u0, gaussian, rtol=0, atol=1e-12)
    # d/dt ∫u dx = -[u²/2 - 0.1 u_x] at the far ends ≈ 0: the mass stays that of the Gaussian.
    dx = x[1] - x[0]
    mass = u.sum(axis=0) * dx
    assert mass[0] == pytest.approx(amplitude * np.sqrt(2 * np.pi * sigma2), rel=1e-10)
    assert np.ptp(mass) / mass[0] < 1e-10


def test_burgers_data_satisfy_the_pde_to_second_order(burgers):
    # Independent check of layout and real part: with central differences the residual of
    # u_t + u u_x - 0.1 u_xx shrinks like dt² (time sampling dominates), and a least-squares fit
    # of u_t = a u u_x + b u_xx recovers a = -1, b = 0.1.
    coords, fields = burgers
    x, t, full = coords["x"], coords["t"], fields["usol"]
    dx = x[1] - x[0]
    steps, residuals, fits = [], [], []
    for stride in (1, 2, 4):
        u = full[:, ::stride]
        dt = (t[1] - t[0]) * stride
        u_t = (u[1:-1, 2:] - u[1:-1, :-2]) / (2 * dt)
        mid = u[:, 1:-1]
        u_x = (mid[2:] - mid[:-2]) / (2 * dx)
        u_xx = (mid[2:] - 2 * mid[1:-1] + mid[:-2]) / dx**2
        mid = mid[1:-1]
        residual = u_t + mid * u_x - 0.1 * u_xx
        steps.append(dt)
        residuals.append(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(u_t**2)))
        design = np.column_stack([(mid * u_x).ravel(), u_xx.ravel()])
        fits.append(np.linalg.lstsq(design, u_t.ravel(), rcond=None)[0])
    order = np.polyfit(np.log(steps), np.log(residuals), 1)[0]
    assert 1.7 < order < 2.3, (order, residuals)
    assert residuals[0] < 0.01
    np.testing.assert_allclose(fits[0], [-1.0, 0.1], rtol=2e-3)
