"""Readers of localisation tables and density maps: round trips, unit conversion, clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mollifier.io import FileFormatError
from mollifier.storm.density import DensityMap
from mollifier.storm.localisations import Localisations, UnitError
from mollifier.storm.readers import (
    read_density_map,
    read_localisation_table,
    read_picasso,
    read_storm_input,
    read_thunderstorm,
    write_picasso,
    write_thunderstorm,
)


@pytest.fixture
def locs() -> Localisations:
    rng = np.random.default_rng(0)
    n = 500
    return Localisations(
        x=rng.uniform(0, 5000, n),
        y=rng.uniform(0, 4000, n),
        frame=rng.integers(1, 100, n).astype(float),
        uncertainty=rng.uniform(8, 25, n),
    )


def test_thunderstorm_round_trip(tmp_path, locs):
    path = write_thunderstorm(tmp_path / "t.csv", locs)
    header = path.read_text().splitlines()[0]
    assert header.startswith('"id","frame","x [nm]","y [nm]"')
    back = read_thunderstorm(path)
    # Positions are written with 0.01 nm resolution, uncertainties with 0.001 nm.
    np.testing.assert_allclose(back.x, locs.x, atol=0.005 + 1e-9)
    np.testing.assert_allclose(back.y, locs.y, atol=0.005 + 1e-9)
    np.testing.assert_allclose(back.uncertainty, locs.uncertainty, atol=0.0005 + 1e-9)
    np.testing.assert_array_equal(back.frame, locs.frame)
    assert read_storm_input(path).x.size == len(locs)  # sniffed as ThunderSTORM


@pytest.mark.parametrize(("unit", "scale"), [("µm", 1e-3), ("um", 1e-3), ("px", 1 / 160.0)])
def test_thunderstorm_units_are_converted_to_nm(tmp_path, unit, scale):
    path = tmp_path / "u.csv"
    path.write_text(
        f'"frame","x [{unit}]","y [{unit}]","uncertainty [{unit}]"\n'
        f"1,{1000 * scale},{2000 * scale},{10 * scale}\n"
    )
    back = read_thunderstorm(path, pixel_size=160.0)
    np.testing.assert_allclose([back.x[0], back.y[0], back.uncertainty[0]], [1000, 2000, 10])


def test_thunderstorm_errors(tmp_path):
    missing = tmp_path / "missing_y.csv"
    missing.write_text('"id","frame","x [nm]","intensity [photon]"\n1,1,5.0,100\n')
    with pytest.raises(FileFormatError, match=r"missing column\(s\) \['y \[nm\]'\]"):
        read_thunderstorm(missing)
    no_unit = tmp_path / "no_unit.csv"
    no_unit.write_text("x,y\n1,2\n")
    with pytest.raises(UnitError, match="no unit in brackets"):
        read_thunderstorm(no_unit)
    px = tmp_path / "px.csv"
    px.write_text('"x [px]","y [px]"\n1,2\n')
    with pytest.raises(UnitError, match="pixel size"):
        read_thunderstorm(px)
    bad = tmp_path / "bad.csv"
    bad.write_text('"x [nm]","y [nm]"\n1,2\n3,abc\n')
    with pytest.raises(FileFormatError, match="malformed data rows"):
        read_thunderstorm(bad)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('"x [nm]","y [nm]","frame"\n1,2\n')
    with pytest.raises(FileFormatError):
        read_thunderstorm(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FileFormatError, match="empty"):
        read_thunderstorm(empty)
    with pytest.raises(FileFormatError, match="not found"):
        read_thunderstorm(tmp_path / "nope.csv")
    weird = tmp_path / "weird.csv"
    weird.write_text('"x [furlong]","y [furlong]"\n1,2\n')
    with pytest.raises(UnitError, match="unknown length unit"):
        read_thunderstorm(weird)


def test_header_only_table_reads_as_empty(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text('"id","frame","x [nm]","y [nm]"\n')
    assert len(read_thunderstorm(path)) == 0


def test_picasso_round_trip(tmp_path, locs):
    path = write_picasso(tmp_path / "p.hdf5", locs, pixel_size=130.0)
    back = read_picasso(path)  # pixel size from the .yaml sidecar
    np.testing.assert_allclose(back.x, locs.x, rtol=1e-6)  # float32 pixels
    np.testing.assert_allclose(back.y, locs.y, rtol=1e-6)
    np.testing.assert_allclose(back.uncertainty, locs.uncertainty, rtol=1e-5)
    np.testing.assert_array_equal(back.frame, locs.frame)
    # An explicit pixel size wins over the sidecar.
    scaled = read_picasso(path, pixel_size=65.0)
    np.testing.assert_allclose(scaled.x, locs.x / 2, rtol=1e-6)
    assert isinstance(read_storm_input(path), Localisations)


def test_picasso_errors(tmp_path, locs, monkeypatch):
    path = write_picasso(tmp_path / "p.hdf5", locs, pixel_size=130.0)
    path.with_suffix(".yaml").unlink()
    with pytest.raises(UnitError, match="no pixel size"):
        read_picasso(path)
    import h5py

    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as fh:
        fh.create_dataset("points", data=np.zeros(3))
    with pytest.raises(FileFormatError, match="no 'locs' dataset"):
        read_picasso(other, pixel_size=100.0)
    text = tmp_path / "text.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(FileFormatError, match="not a readable HDF5"):
        read_picasso(text, pixel_size=100.0)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"mollifier\[io\]"):
        read_picasso(path, pixel_size=100.0)


def test_plain_tables_need_a_unit(tmp_path):
    csv = tmp_path / "plain.csv"
    csv.write_text("x,y,frame\n1.5,2.5,1\n3.5,4.5,2\n")
    with pytest.raises(UnitError, match="does not say its coordinate unit"):
        read_localisation_table(csv)
    back = read_localisation_table(csv, unit="um")
    np.testing.assert_allclose(back.x, [1500, 3500])
    sniffed = read_storm_input(csv, unit="um")  # x, y, frame: a plain localisation table
    assert isinstance(sniffed, Localisations)
    np.testing.assert_allclose(sniffed.y, [2500, 4500])
    bracket = tmp_path / "bracket.csv"
    bracket.write_text("x [um],y [um]\n1,2\n")
    np.testing.assert_allclose(read_localisation_table(bracket).y, [2000])
    with pytest.raises(UnitError, match="says unit"):
        read_localisation_table(bracket, unit="nm")
    npz = tmp_path / "t.npz"
    np.savez(npz, x=np.array([1.0, 2.0]), y=np.array([3.0, 4.0]), unit=np.array("px"))
    np.testing.assert_allclose(read_localisation_table(npz, pixel_size=100.0).x, [100, 200])
    np.savez(tmp_path / "noy.npz", x=np.array([1.0]))
    with pytest.raises(FileFormatError, match=r"missing array\(s\) \['y'\]"):
        read_localisation_table(tmp_path / "noy.npz", unit="nm")
    nox = tmp_path / "nox.csv"
    nox.write_text("u,v\n1,2\n")
    with pytest.raises(FileFormatError, match="missing column"):
        read_localisation_table(nox, unit="nm")


def _check_map(m: DensityMap, x: np.ndarray, y: np.ndarray, values: np.ndarray) -> None:
    np.testing.assert_allclose(m.x, x)
    np.testing.assert_allclose(m.y, y)
    np.testing.assert_allclose(m.values, values)


def test_density_map_readers(tmp_path):
    x = np.arange(6) * 20.0
    y = np.arange(4) * 20.0
    values = np.arange(24.0).reshape(6, 4)
    np.savez(tmp_path / "m.npz", x=x, y=y, density=values, unit=np.array("nm"))
    _check_map(read_density_map(tmp_path / "m.npz"), x, y, values)
    assert isinstance(read_storm_input(tmp_path / "m.npz"), DensityMap)
    X, Y = np.meshgrid(x, y, indexing="ij")
    rows = np.column_stack([X.ravel(), Y.ravel(), values.ravel()])[::-1]  # any row order
    headed = tmp_path / "m.csv"
    np.savetxt(headed, rows, delimiter=",", header="x,y,value", comments="")
    _check_map(read_density_map(headed, unit="nm"), x, y, values)
    assert isinstance(read_storm_input(headed, unit="nm"), DensityMap)
    comsol = tmp_path / "m.txt"
    np.savetxt(comsol, rows / [1000, 1000, 1], header="COMSOL export", comments="% ")
    _check_map(read_density_map(comsol, unit="um"), x, y, values)
    with pytest.raises(UnitError, match="does not say its coordinate unit"):
        read_density_map(headed)
    np.savetxt(tmp_path / "holey.csv", rows[1:], delimiter=",", header="x,y,value", comments="")
    with pytest.raises(FileFormatError, match="missing"):
        read_density_map(tmp_path / "holey.csv", unit="nm")


def test_density_map_tiff(tmp_path):
    from mollifier.io import write_tiff

    x = np.arange(5) * 0.025  # µm
    y = np.arange(3) * 0.025
    values = np.arange(15.0, dtype=np.float32).reshape(5, 3)
    write_tiff(tmp_path / "m.tif", {"x": x, "y": y}, values)
    m = read_density_map(tmp_path / "m.tif")
    np.testing.assert_allclose(m.spacing, 25.0)
    np.testing.assert_allclose(m.values, values)
