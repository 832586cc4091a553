"""One delimiter sniffer (csv.Sniffer over comma, tab, semicolon, space) and its readers."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.io import read_table
from mollifier.io._delimiter import sniff_delimiter, split_rows
from mollifier.storm.readers import read_density_map, read_localisation_table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x,y,u\n0,0,1", ","),
        ('"name, long",x,y\n"a, b",1,2', ","),  # quoted commas do not change the count per line
        ('"a, b"\t1\t2\n"c, d"\t3\t4', "\t"),  # tab-separated with commas inside quotes
        ('"x, m"\t"y"\t"u"', "\t"),  # a header alone
        ("x;y;u\n0;0;1\n1;0;2", ";"),
        ("x y u\n0 0 1\n1 0 2", None),  # whitespace
        ("   x    y   u\n 0.0  0.0  1.0\n10.0  0.0  2.0", None),  # aligned columns
        ("x [nm],y [nm],frame", ","),  # spaces inside names, comma-separated
        ("x [nm]\ty [nm]\tframe", "\t"),
        ("u", None),  # one column
        ("1,2\n3,4,5\n6,7", ","),  # ragged: the fallback reads the first line
    ],
)
def test_sniff_delimiter(text, expected):
    assert sniff_delimiter(text) == expected


def test_the_old_first_character_rule_would_have_failed_here():
    """A tab-separated header with a comma in a quoted name: counting characters says comma."""
    line = '"x, corrected [nm]"\t"y [nm]"\t"frame"'
    assert "," in line and sniff_delimiter(line) == "\t"
    assert split_rows([line], "\t") == [["x, corrected [nm]", "y [nm]", "frame"]]


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match="empty text"):
        sniff_delimiter(" \n\n")


def test_split_rows_keeps_quoted_delimiters_and_one_row_per_line():
    assert split_rows(['"a;b"; 2 ;3', '"open;4'], ";") == [["a;b", "2", "3"], ["open;4"]]
    assert split_rows(["  1.5   2  ", "3 4"], None) == [["1.5", "2"], ["3", "4"]]


def _reference():
    x = np.array([0.0, 0.5, 1.0])
    y = np.array([0.0, 2.0])
    u = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = [(x[i], y[j], u[i, j]) for i in range(3) for j in range(2)]
    return x, y, u, rows[::-1]


@pytest.mark.parametrize(
    ("header", "sep", "fmt"),
    [
        ('"x","y","u, measured"', ",", "{},{},{}"),
        ('"x"\t"y"\t"u, measured"', "\t", "{}\t{}\t{}"),
        ("x;y;u, measured", ";", "{};{};{}"),
    ],
)
def test_read_table_with_each_delimiter_and_a_comma_in_a_quoted_name(tmp_path, header, sep, fmt):
    x, y, u, rows = _reference()
    path = tmp_path / "t.txt"
    path.write_text(header + "\n" + "\n".join(fmt.format(*r) for r in rows) + "\n")
    coords, fields = read_table(path)
    np.testing.assert_array_equal(coords["x"], x)
    np.testing.assert_array_equal(coords["y"], y)
    np.testing.assert_array_equal(fields["u, measured"], u)


def test_read_table_whitespace_separated(tmp_path):
    x, y, u, rows = _reference()
    path = tmp_path / "t.txt"
    path.write_text("x   y  u\n" + "\n".join("  {}   {}  {}".format(*r) for r in rows) + "\n")
    coords, fields = read_table(path)
    np.testing.assert_array_equal(coords["x"], x)
    np.testing.assert_array_equal(coords["y"], y)
    np.testing.assert_array_equal(fields["u"], u)


def test_storm_tables_use_the_same_sniffer(tmp_path):
    loc = tmp_path / "locs.tsv"
    loc.write_text('"note, free"\t"x [nm]"\t"y [nm]"\n1\t10.5\t20.5\n2\t30.5\t40.5\n')
    back = read_localisation_table(loc)
    np.testing.assert_array_equal(back.x, [10.5, 30.5])
    np.testing.assert_array_equal(back.y, [20.5, 40.5])
    semi = tmp_path / "map.csv"
    rows = [(20.0 * i, 20.0 * j, 10.0 * i + j) for j in range(3) for i in range(4)]
    semi.write_text("x;y;density\n" + "\n".join("{};{};{}".format(*r) for r in rows) + "\n")
    m = read_density_map(semi, unit="nm")
    np.testing.assert_array_equal(m.values, 10.0 * np.arange(4)[:, None] + np.arange(3))
    np.testing.assert_array_equal(m.y, [0.0, 20.0, 40.0])
