"""TIFF images and stacks: index convention, physical pixel size, round trips, rejected files."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tifffile

from mollifier.io._gridding import FileFormatError
from mollifier.io.images import read_tiff, write_tiff

from .conftest import assert_message, garble, truncate


def _image(rng: np.random.Generator, nx: int = 7, ny: int = 5) -> np.ndarray:
    return rng.normal(size=(nx, ny)).astype(np.float32)


def test_round_trip_2d_and_the_row_column_convention(tmp_path, rng):
    u = _image(rng)  # indexed [x, y], nx=7 != ny=5
    coords = {"x": 0.25 * np.arange(7), "y": 0.5 * np.arange(5)}
    path = write_tiff(tmp_path / "u.tif", coords, u)
    stored = tifffile.imread(path)
    assert stored.shape == (5, 7)  # rows = y, columns = x
    np.testing.assert_array_equal(stored, u.T)
    got_coords, fields = read_tiff(path)
    assert list(got_coords) == ["x", "y"]
    np.testing.assert_array_equal(got_coords["x"], coords["x"])
    np.testing.assert_array_equal(got_coords["y"], coords["y"])
    np.testing.assert_array_equal(fields["u"], u)
    assert fields["u"].dtype == np.float64


@pytest.mark.parametrize(("lead", "step"), [("t", 0.125), ("z", 0.3)])
def test_round_trip_stacks(tmp_path, rng, lead, step):
    u = rng.integers(0, 60000, size=(4, 6, 3)).astype(np.uint16)  # [lead, x, y]
    coords = {lead: step * np.arange(4), "x": 0.13 * np.arange(6), "y": 0.2 * np.arange(3)}
    path = write_tiff(tmp_path / "s.tif", coords, u)
    assert tifffile.imread(path).shape == (4, 3, 6)
    got_coords, fields = read_tiff(path, axes=(lead, "y", "x"), field="phi")
    assert list(got_coords) == [lead, "x", "y"]
    for a, c in coords.items():
        np.testing.assert_allclose(got_coords[a], c, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(fields["phi"], u)


def test_default_axes_for_a_stack_are_t_y_x(tmp_path, rng):
    u = rng.normal(size=(3, 4, 2)).astype(np.float32)
    coords = {"t": 2.0 * np.arange(3), "x": np.arange(4.0), "y": np.arange(2.0)}
    path = write_tiff(tmp_path / "s.tif", coords, u)
    got, fields = read_tiff(path)
    assert list(got) == ["t", "x", "y"]
    np.testing.assert_array_equal(got["t"], coords["t"])
    np.testing.assert_array_equal(fields["u"], u)


@pytest.mark.parametrize(
    ("unit", "per_unit", "expected_um"),
    [("CENTIMETER", 5000.0, 2.0), ("INCH", 5080.0, 5.0), ("MICROMETER", 4.0, 0.25)],
)
def test_pixel_size_from_resolution_tags(tmp_path, rng, unit, per_unit, expected_um):
    raw = rng.normal(size=(3, 4))  # float64 image written by another program, rows = y
    path = tmp_path / "r.tif"
    tifffile.imwrite(path, raw, resolution=(per_unit, per_unit / 2), resolutionunit=unit)
    coords, fields = read_tiff(path)
    np.testing.assert_allclose(coords["x"], expected_um * np.arange(4), rtol=1e-14)
    np.testing.assert_allclose(coords["y"], 2 * expected_um * np.arange(3), rtol=1e-14)
    np.testing.assert_array_equal(fields["u"], raw.T)


def test_imagej_units_and_time_units_are_converted(tmp_path, rng):
    raw = rng.normal(size=(2, 3, 4)).astype(np.float32)  # stored (t, y, x)
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        raw,
        imagej=True,
        resolution=(1 / 250.0, 1 / 500.0),  # pixels per nm
        metadata={"axes": "TYX", "unit": "nm", "finterval": 1.5, "tunit": "min"},
    )
    coords, fields = read_tiff(path)
    np.testing.assert_allclose(coords["x"], 0.25 * np.arange(4), rtol=1e-14)  # µm
    np.testing.assert_allclose(coords["y"], 0.5 * np.arange(3), rtol=1e-14)
    np.testing.assert_allclose(coords["t"], 90.0 * np.arange(2), rtol=1e-14)  # s
    np.testing.assert_array_equal(fields["u"], np.swapaxes(raw, 1, 2))


def test_spacing_is_required_without_physical_metadata_and_overrides_it(tmp_path, rng):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _image(rng).T)  # no resolution: ResolutionUnit NONE
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(path)
    assert_message(excinfo, path, "no physical spacing", "spacing=")
    coords, _ = read_tiff(path, spacing={"x": 0.1, "y": 0.2})
    np.testing.assert_allclose(coords["y"], 0.2 * np.arange(5))
    calibrated = write_tiff(
        tmp_path / "cal.tif", {"x": np.arange(7.0), "y": np.arange(5.0)}, _image(rng)
    )
    coords, _ = read_tiff(calibrated, spacing={"x": 3.0})
    np.testing.assert_array_equal(coords["x"], 3.0 * np.arange(7))  # overridden
    np.testing.assert_array_equal(coords["y"], np.arange(5.0))  # from the file


def test_rejected_images(tmp_path, rng):
    stack = write_tiff(
        tmp_path / "stack.tif",
        {"t": np.arange(3.0), "x": np.arange(4.0), "y": np.arange(2.0)},
        np.zeros((3, 4, 2), dtype=np.float32),
    )
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(stack, axes=("y", "x"))
    assert_message(excinfo, stack, "3-D", "2 axes")

    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, rng.integers(0, 255, size=(4, 5, 3), dtype=np.uint8), photometric="rgb")
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(rgb, spacing={"x": 1.0, "y": 1.0})
    assert_message(excinfo, rgb, "colour")

    text = tmp_path / "text.tif"
    text.write_text("not an image\n")
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(text)
    assert_message(excinfo, text, "not a readable tiff")

    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(tmp_path / "none.tif")
    assert_message(excinfo, tmp_path / "none.tif", "not found")

    odd_unit = tmp_path / "odd.tif"
    tifffile.imwrite(odd_unit, np.zeros((2, 2), np.float32), imagej=True, metadata={"unit": "ly"})
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(odd_unit)
    assert_message(excinfo, odd_unit, "'ly'", "spacing=")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda p: truncate(p, 0.5), ["truncated"]),
        (lambda p: garble(p, 0, 4), ["not a readable tiff"]),
    ],
    ids=["truncated", "garbled-header"],
)
def test_corrupt_tiffs(tmp_path, rng, damage, words):
    path = write_tiff(
        tmp_path / "u.tif", {"x": np.arange(40.0), "y": np.arange(30.0)}, _image(rng, 40, 30)
    )
    damage(path)
    with pytest.raises(FileFormatError) as excinfo:
        read_tiff(path)
    assert_message(excinfo, path, *words)


def test_writer_refuses_lossy_or_unrepresentable_input(tmp_path, rng):
    coords = {"x": np.arange(7.0), "y": np.arange(5.0)}
    with pytest.raises(ValueError, match="float32"):
        write_tiff(tmp_path / "a.tif", coords, _image(rng).astype(np.float64))
    with pytest.raises(ValueError, match="start at 0"):
        write_tiff(tmp_path / "a.tif", {"x": 1 + np.arange(7.0), "y": np.arange(5.0)}, _image(rng))
    with pytest.raises(ValueError, match="shape"):
        write_tiff(tmp_path / "a.tif", coords, _image(rng).T)
    with pytest.raises(ValueError, match="'t' or 'z'"):
        write_tiff(
            tmp_path / "a.tif",
            {"c": np.arange(2.0), **coords},
            np.zeros((2, 7, 5), dtype=np.float32),
        )


def test_caller_errors(tmp_path, rng):
    path = write_tiff(tmp_path / "u.tif", {"x": np.arange(7.0), "y": np.arange(5.0)}, _image(rng))
    with pytest.raises(ValueError, match="positive"):
        read_tiff(path, spacing={"x": -1.0})
    with pytest.raises(ValueError, match="not among"):
        read_tiff(path, spacing={"q": 1.0})


def test_missing_tifffile_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "u.tif"
    path.write_bytes(b"II*\x00")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ImportError, match=r"pip install 'mollifier\[io\]'"):
        read_tiff(path)
    with pytest.raises(ImportError, match=r"pip install 'mollifier\[io\]'"):
        write_tiff(path, {"x": np.arange(2.0), "y": np.arange(2.0)}, np.zeros((2, 2), np.float32))
