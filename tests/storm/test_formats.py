"""Microscope exports: hand-written fixtures of each format, malformed ones with clear errors,
channel selection, ``--kind auto``, and exact write/read round trips (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mollifier.io import FileFormatError
from mollifier.storm.formats import (
    NSTORM,
    SMAP,
    ZEISS,
    read_decode,
    read_smap_mat,
    read_text_localisations,
    write_decode,
    write_text_localisations,
)
from mollifier.storm.localisations import LocalisationError, Localisations, UnitError
from mollifier.storm.readers import read_localisation_table, read_storm_input

NSTORM_HEADER = (
    "Channel Name\tX\tY\tXc\tYc\tHeight\tArea\tWidth\tPhi\tAx\tBG\tI\tFrame\tLength\tLink\t"
    "Valid\tZ\tZc\tPhotons\tLateral Localization Accuracy\tXw\tYw\tXwc\tYwc"
)


def _nstorm_row(channel: str, x: float, y: float, drift: float, frame: int, lla: float) -> str:
    cells = [channel, x, y, x - drift, y + drift, 900, 1.2e5, 310, 0.1, 1.02, 120, 4000]
    cells += [frame, 1, -1, 1, 0, 0, 3100, lla, x, y, x - drift, y + drift]
    return "\t".join(str(c) for c in cells)


@pytest.fixture
def nstorm_file(tmp_path):
    rows = [
        _nstorm_row("647", 10000.5, 20000.25, 3.0, 1, 9.5),
        _nstorm_row("647", 10100.0, 20050.0, 3.0, 2, 11.0),
        _nstorm_row("561", 15000.0, 25000.0, 2.0, 2, 14.0),
        _nstorm_row("647", 10200.0, 20100.0, 3.5, 7, 8.0),
    ]
    path = tmp_path / "cells.txt"
    path.write_text(NSTORM_HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def test_nstorm_export_uses_drift_corrected_columns_and_channels(nstorm_file):
    locs = read_storm_input(nstorm_file)  # recognised from the header, nm by the format
    assert isinstance(locs, Localisations)
    assert locs.meta["format"] == "nstorm" and locs.meta["columns"]["x"] == "xwc"
    np.testing.assert_allclose(locs.x, [9997.5, 10097.0, 14998.0, 10196.5])
    np.testing.assert_allclose(locs.y, [20003.25, 20053.0, 25002.0, 20103.5])
    np.testing.assert_allclose(locs.uncertainty, [9.5, 11.0, 14.0, 8.0])
    assert locs.channels() == {"647": 3, "561": 1}
    with pytest.raises(LocalisationError, match=r"2 channels: '647' \(3 localisations\), '561'"):
        locs.select_channel(None)
    red = locs.select_channel("647")
    assert len(red) == 3 and red.meta["channel"] == "647"
    with pytest.raises(LocalisationError, match="no channel 'GFP'"):
        locs.select_channel("GFP")
    with pytest.raises(UnitError, match="nstorm table is in nm by its format"):
        read_storm_input(nstorm_file, unit="um")


def test_nstorm_without_warped_columns_uses_xc_yc(tmp_path):
    header = "\t".join(NSTORM_HEADER.split("\t")[:20])
    row = "\t".join(_nstorm_row("647", 5000.0, 6000.0, 4.0, 1, 10.0).split("\t")[:20])
    path = tmp_path / "nowarp.txt"
    path.write_text(header + "\n" + row + "\n")
    locs = read_text_localisations(path)
    assert locs.meta["columns"]["x"] == "xc"
    np.testing.assert_allclose([locs.x[0], locs.y[0]], [4996.0, 6004.0])


def test_nstorm_utf16_export(tmp_path):
    text = NSTORM_HEADER + "\n" + _nstorm_row("A647", 7000.0, 8000.0, 1.0, 3, 12.0) + "\n"
    path = tmp_path / "u16.txt"
    path.write_bytes(text.encode("utf-16"))
    locs = read_storm_input(path)
    assert isinstance(locs, Localisations)
    assert locs.channels() == {"A647": 1}


ZEISS_TEXT = (
    "Index\tFirst Frame\tNumber Frames\tFrames Missing\tPosition X [nm]\tPosition Y [nm]\t"
    "Precision [nm]\tNumber Photons\tBackground variance\tChi square\tPSF half width [nm]\t"
    "Channel\tZ Slice\n"
    "1\t1\t1\t0\t15850.6\t23502.1\t12.5\t1800\t30\t1.1\t140\t1\t0\n"
    "2\t4\t2\t0\t15900.0\t23600.0\t9.0\t2400\t28\t1.0\t135\t2\t0\n"
    "VoxelSizeX\t0.1\n"
)


def test_zeiss_table_with_footer(tmp_path):
    path = tmp_path / "elyra.txt"
    path.write_text(ZEISS_TEXT)
    locs = read_storm_input(path)
    assert isinstance(locs, Localisations) and locs.meta["format"] == "zeiss"
    np.testing.assert_allclose(locs.x, [15850.6, 15900.0])
    np.testing.assert_allclose(locs.uncertainty, [12.5, 9.0])
    np.testing.assert_allclose(locs.frame, [1, 4])
    assert locs.channels() == {"1": 1, "2": 1}
    px = tmp_path / "px.txt"
    px.write_text(
        ZEISS_TEXT.replace("Position X [nm]", "Position X [px]").replace("Y [nm]", "Y [px]")
    )
    with pytest.raises(
        UnitError, match=r"zeiss table gives positions in nm; this header says 'px'"
    ):
        read_storm_input(px, pixel_size=100.0)


def test_smap_csv_and_mat(tmp_path):
    path = tmp_path / "smap.csv"
    path.write_text("xnm,ynm,znm,locprecnm,frame,channel,phot\n100.5,200,0,7.5,1,1,900\n")
    locs = read_storm_input(path)
    assert isinstance(locs, Localisations) and locs.meta["format"] == "smap"
    np.testing.assert_allclose([locs.x[0], locs.y[0], locs.uncertainty[0]], [100.5, 200, 7.5])
    from scipy.io import savemat

    loc = {
        "xnm": np.array([1.0, 2.0, 3.0]),
        "ynm": np.array([4.0, 5.0, 6.0]),
        "locprecnm": np.array([10.0, 11.0, 12.0]),
        "frame": np.array([1.0, 2.0, 2.0]),
        "channel": np.array([1.0, 2.0, 1.0]),
    }
    mat = tmp_path / "cell_sml.mat"
    savemat(mat, {"saveloc": {"loc": loc}})
    back = read_storm_input(mat)
    assert isinstance(back, Localisations)
    np.testing.assert_allclose(back.y, [4, 5, 6])
    assert back.channels() == {"1": 2, "2": 1}
    import h5py

    v73 = tmp_path / "v73_sml.mat"
    with h5py.File(v73, "w") as fh:
        g = fh.create_group("saveloc").create_group("loc")
        for k, v in loc.items():
            g.create_dataset(k, data=v[None, :])  # MATLAB stores row vectors as (1, N)
    np.testing.assert_allclose(read_smap_mat(v73).x, [1, 2, 3])
    savemat(tmp_path / "other.mat", {"points": np.zeros(3)})
    with pytest.raises(FileFormatError, match=r"no saveloc\.loc"):
        read_smap_mat(tmp_path / "other.mat")


def test_decode_hdf5_units(tmp_path):
    locs = Localisations(
        x=[100.0, 250.0], y=[300.0, 50.0], frame=[0.0, 3.0], uncertainty=[10.0, 20.0]
    )
    nm = write_decode(tmp_path / "nm.h5", locs)
    back = read_storm_input(nm)
    assert isinstance(back, Localisations) and back.meta["format"] == "decode"
    np.testing.assert_array_equal(back.x, locs.x)
    px = write_decode(tmp_path / "px.h5", locs, unit="px", pixel_size=125.0)
    np.testing.assert_allclose(read_decode(px).y, locs.y)
    np.testing.assert_allclose(read_decode(px).uncertainty, [10.0, 20.0])
    import h5py

    with h5py.File(px, "a") as fh:
        fh["meta"].attrs["xy_unit"] = "furlong"
    with pytest.raises(UnitError, match="xy_unit must be 'nm' or 'px'"):
        read_decode(px)
    with h5py.File(px, "a") as fh:
        fh["meta"].attrs["xy_unit"] = "px"
        del fh["meta"].attrs["px_size"]
    with pytest.raises(UnitError, match="px_size"):
        read_decode(px)


def test_generic_table_with_declared_columns(tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("probe\tpos_x\tpos_y\tsd\nH2B\t1.5\t2.5\t0.01\nLMNB\t3\t4\t0.02\n")
    cols = {"x": "pos_x", "y": "pos_y", "uncertainty": "sd", "channel": "probe"}
    with pytest.raises(UnitError, match="does not say its coordinate unit"):
        read_localisation_table(path, columns=cols)
    locs = read_storm_input(path, columns=cols, unit="um")
    assert isinstance(locs, Localisations)
    np.testing.assert_allclose(locs.x, [1500, 3000])
    np.testing.assert_allclose(locs.uncertainty, [10, 20])
    assert locs.channels() == {"H2B": 1, "LMNB": 1}
    with pytest.raises(FileFormatError, match=r"missing column\(s\) \['posx'\]"):
        read_localisation_table(path, columns={"x": "posx", "y": "pos_y"}, unit="um")
    with pytest.raises(ValueError, match="columns must name 'x' and 'y'"):
        read_localisation_table(path, columns={"x": "pos_x", "z": "pos_y"}, unit="um")


def _fixture(fmt_name: str) -> tuple[str, str]:
    """A valid two-row fixture of each text format and the name of its x column."""
    if fmt_name == "nstorm":
        rows = [_nstorm_row("647", 1000.0, 2000.0, 1.0, k, 10.0) for k in (1, 2)]
        return NSTORM_HEADER + "\n" + "\n".join(rows) + "\n", "Xwc"
    if fmt_name == "zeiss":
        return ZEISS_TEXT, "Position X [nm]"
    return "xnm,ynm,locprecnm,frame\n1,2,10,1\n3,4,10,2\n", "xnm"


@pytest.mark.parametrize("fmt_name", ["nstorm", "zeiss", "smap"])
def test_malformed_exports_name_file_and_problem(tmp_path, fmt_name):
    text, xcol = _fixture(fmt_name)
    header, *rows = text.splitlines()
    sep = "\t" if "\t" in header else ","

    def write(name: str, content: str):
        p = tmp_path / f"{fmt_name}_{name}.txt"
        p.write_text(content)
        return p

    empty = write("empty", "")
    with pytest.raises(FileFormatError, match=rf"{empty.name}: the file is empty"):
        read_storm_input(empty, kind=fmt_name)
    no_x = sep.join(c for c in header.split(sep) if c not in (xcol, "Xc", "X"))
    no_x_rows = [
        sep.join(
            c
            for c, h in zip(r.split(sep), header.split(sep), strict=False)
            if h not in (xcol, "Xc", "X")
        )
        for r in rows
    ]
    missing = write("missing", no_x + "\n" + "\n".join(no_x_rows) + "\n")
    with pytest.raises(FileFormatError, match=rf"{missing.name}: missing column"):
        read_storm_input(missing, kind=fmt_name)
    other = ";" if sep == "," else ","
    wrong = write("delim", header + "\n" + rows[0].replace(sep, other) + "\n")
    with pytest.raises(FileFormatError, match=rf"{wrong.name}: row 2 has 1 cells"):
        read_storm_input(wrong, kind=fmt_name)
    cells = rows[0].split(sep)
    cells[header.split(sep).index(xcol)] = "NaN"
    nan = write("nan", header + "\n" + sep.join(cells) + "\n")
    with pytest.raises(FileFormatError, match=rf"{nan.name}: 1 rows have a NaN"):
        read_storm_input(nan, kind=fmt_name)
    cells[header.split(sep).index(xcol)] = "abc"
    text_cell = write("text", header + "\n" + sep.join(cells) + "\n")
    with pytest.raises(FileFormatError, match=rf"{text_cell.name}: row 2, column .*'abc' is not"):
        read_storm_input(text_cell, kind=fmt_name)
    unit_header = header
    for col in (xcol, xcol.replace("X", "Y").replace("x", "y")):
        unit_header = unit_header.replace(col, col.replace(" [nm]", "") + " [um]", 1)
    bad_unit = write("unit", unit_header + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(UnitError, match=rf"{bad_unit.name}: .*gives positions in nm"):
        read_storm_input(bad_unit, kind=fmt_name)


_names = st.text(alphabet="ABCDEFGHIJ0123456789_-", min_size=1, max_size=6)
_coords = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False)


@st.composite
def _tables(draw) -> Localisations:
    n = draw(st.integers(min_value=1, max_value=25))
    xs = draw(st.lists(_coords, min_size=n, max_size=n))
    ys = draw(st.lists(_coords, min_size=n, max_size=n))
    frame = draw(st.none() | st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    unc = draw(
        st.none() | st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=n, max_size=n)
    )
    channel = draw(st.none() | st.lists(_names, min_size=n, max_size=n))
    return Localisations(
        x=xs,
        y=ys,
        frame=None if frame is None else np.asarray(frame, float),
        uncertainty=unc,
        channel=channel,
    )


def _same(a: Localisations, b: Localisations, *, channel: bool = True) -> None:
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    for name in ("frame", "uncertainty") + (("channel",) if channel else ()):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            np.testing.assert_array_equal(va, vb)


@pytest.mark.parametrize("fmt", [NSTORM, ZEISS, SMAP], ids=lambda f: f.name)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(locs=_tables())
def test_text_exports_round_trip_exactly(tmp_path, fmt, locs):
    path = write_text_localisations(tmp_path / f"rt.{fmt.name}.txt", locs, fmt)
    back = read_storm_input(path)  # the format is recognised from the header
    assert isinstance(back, Localisations) and back.meta["format"] == fmt.name
    _same(locs, back)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(locs=_tables())
def test_decode_round_trips_exactly(tmp_path, locs):
    path = write_decode(tmp_path / "rt.h5", locs)
    back = read_decode(path)
    if locs.frame is None:  # DECODE always has frame_ix; the writer puts frame 0
        np.testing.assert_array_equal(back.frame, np.zeros(len(locs)))
        back = back.subset(np.arange(len(back)))
        object.__setattr__(back, "frame", None)
    _same(locs, back, channel=False)
