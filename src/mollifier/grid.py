"""Uniform tensor-product grids with named axes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["Grid", "GridError"]

#: Largest tolerated deviation of a coordinate step from the mean step, relative to the mean step.
#: Coordinates written by other programs carry round-off (1e-13 in COMSOL exports, 1e-7 in float32);
#: a genuinely non-uniform grid deviates by far more.
UNIFORMITY_RTOL = 1e-4


class GridError(ValueError):
    """Coordinates that do not describe a uniform, increasing, finite grid."""


def _uniform_coords(name: str, values: Any) -> np.ndarray:
    c = np.asarray(values)
    if c.dtype == object or not np.issubdtype(c.dtype, np.number) or np.iscomplexobj(c):
        raise GridError(f"axis {name!r}: coordinates must be real numbers, got dtype {c.dtype}")
    c = c.astype(np.float64)
    if c.ndim != 1:
        raise GridError(f"axis {name!r}: coordinates must be a 1-D vector, got shape {c.shape}")
    if c.size < 2:
        raise GridError(f"axis {name!r}: needs at least 2 points, got {c.size}")
    if not np.all(np.isfinite(c)):
        bad = int(np.flatnonzero(~np.isfinite(c))[0])
        raise GridError(f"axis {name!r}: coordinate {bad} is {c[bad]} (NaN or inf)")
    steps = np.diff(c)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise GridError(
            f"axis {name!r}: coordinates must be strictly increasing, but "
            f"c[{i}]={c[i]:.6g} >= c[{i + 1}]={c[i + 1]:.6g}"
        )
    mean = (c[-1] - c[0]) / (c.size - 1)
    dev = np.max(np.abs(steps - mean)) / mean
    if dev > UNIFORMITY_RTOL:
        i = int(np.argmax(np.abs(steps - mean)))
        raise GridError(
            f"axis {name!r}: grid is not uniform: step {i} is {steps[i]:.6g} but the mean step is "
            f"{mean:.6g} (relative deviation {dev:.2e} > {UNIFORMITY_RTOL:.0e}); mollifier "
            "stencils need uniform spacing, so resample onto a uniform grid first"
        )
    return c


class Grid(Mapping[str, np.ndarray]):
    """A uniform tensor-product grid with named axes.

    ``Grid(t=t, x=x)`` builds a grid whose axes are ``("t", "x")`` in that order; arrays living on
    it have shape ``(len(t), len(x))`` and are indexed ``[t, x]``.

    Parameters
    ----------
    **coords : array_like
        One 1-D, strictly increasing, uniformly spaced coordinate vector per axis, in physical
        units. Axis names must be single characters so that derivative strings such as ``"xxyy"``
        are unambiguous.

    Raises
    ------
    GridError
        For non-uniform, non-monotonic, NaN/inf, multi-dimensional or too-short coordinates, or
        an invalid axis name.

    Examples
    --------
    >>> import numpy as np
    >>> g = Grid(x=np.linspace(0, 1, 11), y=np.linspace(0, 2, 5))
    >>> g.axes, g.shape, g.spacing["x"], g.spacing["y"]
    (('x', 'y'), (11, 5), 0.1, 0.5)
    """

    def __init__(self, **coords: Any) -> None:
        if not coords:
            raise GridError("a grid needs at least one axis, e.g. Grid(x=np.linspace(0, 1, 65))")
        for name in coords:
            if len(name) != 1 or not name.isalpha():
                raise GridError(
                    f"axis name {name!r} must be a single letter, so that derivative strings "
                    "like 'xxyy' are unambiguous"
                )
        self._coords = {name: _uniform_coords(name, c) for name, c in coords.items()}
        self._spacing = {
            name: float((c[-1] - c[0]) / (c.size - 1)) for name, c in self._coords.items()
        }

    # Mapping protocol: axis name -> coordinate vector.
    def __getitem__(self, axis: str) -> np.ndarray:
        try:
            return self._coords[axis]
        except KeyError:
            raise KeyError(f"grid has no axis {axis!r}; its axes are {self.axes}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._coords)

    def __len__(self) -> int:
        return len(self._coords)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{a}=[{c[0]:.4g}..{c[-1]:.4g}, n={c.size}]" for a, c in self._coords.items()
        )
        return f"Grid({parts})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.axes == other.axes and all(np.array_equal(self[a], other[a]) for a in self.axes)

    __hash__ = None  # type: ignore[assignment]

    @property
    def axes(self) -> tuple[str, ...]:
        """Axis names in array order."""
        return tuple(self._coords)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of points along each axis."""
        return tuple(c.size for c in self._coords.values())

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self._coords)

    @property
    def spacing(self) -> dict[str, float]:
        """Grid step per axis, in the coordinates' units."""
        return dict(self._spacing)

    @property
    def extent(self) -> dict[str, tuple[float, float]]:
        """``(first, last)`` coordinate per axis."""
        return {a: (float(c[0]), float(c[-1])) for a, c in self._coords.items()}

    def index(self, axis: str) -> int:
        """Array dimension of ``axis``."""
        try:
            return self.axes.index(axis)
        except ValueError:
            raise KeyError(f"grid has no axis {axis!r}; its axes are {self.axes}") from None

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Coordinate arrays broadcast to the grid shape (``indexing="ij"``)."""
        return tuple(np.meshgrid(*self._coords.values(), indexing="ij"))

    def subgrid(self, axes: tuple[str, ...]) -> Grid:
        """The grid restricted to ``axes`` (in the given order)."""
        return Grid(**{a: self[a] for a in axes})

    def crop(self, margin: Mapping[str, int]) -> Grid:
        """The grid with ``margin[a]`` points removed from both ends of each listed axis."""
        coords = {}
        for a, c in self._coords.items():
            m = int(margin.get(a, 0))
            if m < 0 or 2 * m >= c.size - 1:
                raise GridError(f"axis {a!r}: cannot crop {m} points from each end of {c.size}")
            coords[a] = c[m : c.size - m] if m else c
        return Grid(**coords)

    def check_array(self, name: str, array: Any) -> None:
        """Raise ``ValueError`` unless ``array`` has this grid's shape."""
        shape = tuple(getattr(array, "shape", np.shape(array)))
        if shape != self.shape:
            raise ValueError(
                f"{name} has shape {shape}, but the grid {self.axes} has shape {self.shape}"
            )
