"""A table of single-molecule localisations in nanometres, validated once on construction.

Every reader in :mod:`mollifier.storm.readers` returns a :class:`Localisations`; every later step
(density, segmentation, inference) takes one. Coordinates are always nanometres in the camera's
``(x, y)`` frame, so a wrong unit is caught here and nowhere else has to think about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "MAX_EXTENT_NM",
    "MIN_EXTENT_NM",
    "MIN_LOCALISATIONS",
    "LocalisationError",
    "Localisations",
    "UnitError",
    "length_unit_nm",
    "merge_blinks",
]

#: Fewest localisations a nucleus needs before any density estimate means something.
MIN_LOCALISATIONS = 1000
#: Plausible span (robust 1st-99th percentile range) of one nucleus' localisations, in nm.
MIN_EXTENT_NM = 500.0
MAX_EXTENT_NM = 200_000.0

_UNITS_NM = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "um": 1000.0,
    "µm": 1000.0,
    "μm": 1000.0,
    "micron": 1000.0,
    "micrometer": 1000.0,
    "micrometre": 1000.0,
    "mm": 1e6,
}


class LocalisationError(ValueError):
    """A localisation table that cannot be analysed (empty, too small, malformed values)."""


class UnitError(LocalisationError):
    """Coordinates in a unit that is unknown, missing, or implausible for a nucleus."""


def length_unit_nm(unit: str, *, pixel_size: float | None = None, source: str = "") -> float:
    """Nanometres per ``unit``: ``"nm"``, ``"um"``/``"µm"``, ``"mm"``, or ``"px"`` (camera pixels).

    Parameters
    ----------
    unit : str
        Unit name (case-insensitive).
    pixel_size : float, optional
        Camera pixel size in nm; required for ``"px"``.
    source : str
        File name used in error messages.

    Raises
    ------
    UnitError
        For an unknown unit, or ``"px"`` without a positive ``pixel_size``.

    Examples
    --------
    >>> length_unit_nm("µm"), length_unit_nm("px", pixel_size=107.0)
    (1000.0, 107.0)
    """
    where = f"{source}: " if source else ""
    key = str(unit).strip().lower()
    if key in ("px", "pixel", "pixels", "camera pixel"):
        if pixel_size is None:
            raise UnitError(
                f"{where}coordinates are in camera pixels; give the pixel size in nm "
                "(pixel_size=..., or --pixel-size on the command line)"
            )
        if not (np.isfinite(pixel_size) and pixel_size > 0):
            raise UnitError(f"{where}pixel size must be a positive number of nm, got {pixel_size}")
        return float(pixel_size)
    if key not in _UNITS_NM:
        raise UnitError(
            f"{where}unknown length unit {unit!r}; use one of nm, um (µm), mm or px "
            "(with a pixel size)"
        )
    return _UNITS_NM[key]


def _vector(name: str, value: Any, n: int | None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise LocalisationError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1) if arr.ndim <= 1 else arr
    if arr.ndim != 1:
        raise LocalisationError(f"{name} must be a 1-D vector, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise LocalisationError(f"{name} has {arr.size} entries, but x has {n}")
    return arr


@dataclass(frozen=True)
class Localisations:
    """Single-molecule localisations of one field of view, in nanometres.

    Parameters
    ----------
    x, y : ndarray, shape (N,)
        Positions in nm (camera frame; ``x`` along image columns, ``y`` along rows).
    frame : ndarray, shape (N,), optional
        Frame number of each localisation (1-based in ThunderSTORM, 0-based in Picasso; kept as
        read).
    uncertainty : ndarray, shape (N,), optional
        Localisation precision (standard deviation of the position error) in nm, > 0.
    channel : ndarray of str, shape (N,), optional
        Channel name of each localisation (multi-colour exports), kept as text.
    source : str
        Where the table came from (file name), for messages and provenance.
    meta : dict
        Reader facts (format, unit conversions, dropped rows).

    Raises
    ------
    LocalisationError
        If the vectors differ in length, are not numeric, hold NaN/inf positions, or the
        uncertainties are not positive.

    Examples
    --------
    >>> locs = Localisations(x=[0.0, 10.0, 20.0], y=[5.0, 5.0, 6.0])
    >>> len(locs), locs.extent_nm()
    (3, (20.0, 1.0))
    """

    x: np.ndarray
    y: np.ndarray
    frame: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    channel: np.ndarray | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = _vector("x", self.x, None)
        y = _vector("y", self.y, x.size)
        where = f"{self.source}: " if self.source else ""
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            bad = int(np.sum(~(np.isfinite(x) & np.isfinite(y))))
            raise LocalisationError(f"{where}{bad} localisations have NaN or infinite positions")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        if self.frame is not None:
            object.__setattr__(self, "frame", _vector("frame", self.frame, x.size))
        if self.uncertainty is not None:
            u = _vector("uncertainty", self.uncertainty, x.size)
            if not np.all(np.isfinite(u) & (u > 0)):
                raise LocalisationError(
                    f"{where}uncertainties must be positive and finite "
                    f"({int(np.sum(~(np.isfinite(u) & (u > 0))))} are not)"
                )
            object.__setattr__(self, "uncertainty", u)
        if self.channel is not None:
            c = np.asarray(self.channel).astype(str).reshape(-1)
            if c.size != x.size:
                raise LocalisationError(f"{where}channel has {c.size} entries, but x has {x.size}")
            object.__setattr__(self, "channel", c)

    def __len__(self) -> int:
        return int(self.x.size)

    def extent_nm(self, *, robust: bool = False) -> tuple[float, float]:
        """Span ``(Δx, Δy)`` in nm: full range, or the 1st-99th percentile range if ``robust``."""
        if len(self) == 0:
            return (0.0, 0.0)
        if robust:
            lo, hi = np.percentile(np.stack([self.x, self.y]), [1, 99], axis=1)
            return (float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        return (float(np.ptp(self.x)), float(np.ptp(self.y)))

    def subset(self, index: np.ndarray) -> Localisations:
        """The localisations selected by an integer or boolean ``index`` (repeats allowed)."""
        idx = np.asarray(index)
        return Localisations(
            x=self.x[idx],
            y=self.y[idx],
            frame=None if self.frame is None else self.frame[idx],
            uncertainty=None if self.uncertainty is None else self.uncertainty[idx],
            channel=None if self.channel is None else self.channel[idx],
            source=self.source,
            meta=dict(self.meta),
        )

    def channels(self) -> dict[str, int]:
        """Localisations per channel name, in order of first appearance (``{}`` without a
        channel column).

        Examples
        --------
        >>> Localisations(x=[0.0, 1, 2], y=[0.0, 1, 2], channel=["647", "561", "647"]).channels()
        {'647': 2, '561': 1}
        """
        if self.channel is None:
            return {}
        names, first, counts = np.unique(self.channel, return_index=True, return_counts=True)
        order = np.argsort(first)
        return {str(names[i]): int(counts[i]) for i in order}

    def select_channel(self, name: str | None) -> Localisations:
        """The localisations of channel ``name``.

        With ``name=None`` a table of one channel (or without a channel column) is returned as
        it is, and a table of several channels is an error that lists them with their counts.

        Raises
        ------
        LocalisationError
            ``name`` is not a channel of the table, or several channels and no ``name``.
        """
        where = f"{self.source}: " if self.source else ""
        found = self.channels()
        listing = ", ".join(f"{k!r} ({v} localisations)" for k, v in found.items())
        if name is None:
            if len(found) <= 1:
                return self
            raise LocalisationError(
                f"{where}the table holds {len(found)} channels: {listing}; choose one with "
                "--channel NAME (channel=...) and, if another outlines the nucleus, "
                "--mask-channel NAME"
            )
        if name not in found:
            have = listing if found else "no channel column"
            raise LocalisationError(f"{where}no channel {name!r}; the table has {have}")
        assert self.channel is not None
        out = self.subset(np.asarray(self.channel == name))
        meta = dict(out.meta)
        meta["channel"] = name
        return Localisations(
            x=out.x,
            y=out.y,
            frame=out.frame,
            uncertainty=out.uncertainty,
            channel=out.channel,
            source=out.source,
            meta=meta,
        )

    def check_analysable(self, *, min_count: int = MIN_LOCALISATIONS) -> None:
        """Raise unless this table plausibly holds one nucleus: enough points, a sane span.

        Raises
        ------
        LocalisationError
            With fewer than ``min_count`` localisations (an empty or tiny set).
        UnitError
            If the robust span is below :data:`MIN_EXTENT_NM` or above :data:`MAX_EXTENT_NM`:
            the coordinates are then almost surely in another unit than the one declared.
        """
        where = f"{self.source}: " if self.source else ""
        if len(self) == 0:
            raise LocalisationError(f"{where}the localisation table is empty")
        if len(self) < min_count:
            raise LocalisationError(
                f"{where}only {len(self)} localisations; a nucleus needs at least {min_count} "
                "for a density estimate (STORM nuclei typically have 10^5-10^6)"
            )
        span = max(self.extent_nm(robust=True))
        if span < MIN_EXTENT_NM:
            raise UnitError(
                f"{where}the localisations span only {span:.3g} nm (1st-99th percentile), far "
                f"less than a nucleus (> {MIN_EXTENT_NM:g} nm); are the coordinates in µm or "
                "camera pixels rather than nm? Declare the unit (--unit um, or --unit px with "
                "--pixel-size; unit=... in Python)"
            )
        if span > MAX_EXTENT_NM:
            raise UnitError(
                f"{where}the localisations span {span:.3g} nm, more than any nucleus "
                f"(< {MAX_EXTENT_NM:g} nm); are the coordinates in Å or pm, or is the pixel "
                "size wrong?"
            )


def merge_blinks(
    locs: Localisations,
    *,
    max_gap: int = 1,
    sigmas: float = 3.0,
    default_precision: float = 20.0,
) -> Localisations:
    """Merge repeated detections of one blink: localisations in frames at most ``max_gap``
    apart (consecutive frames with the default 1) whose distance is within ``sigmas`` combined
    precisions ``√(u_i² + u_j²)`` are linked, chains of links form one emitter, and each emitter
    becomes one localisation at the precision-weighted mean position (weights ``1/u²``) with
    precision ``(Σ 1/u²)^(-1/2)`` and the first frame. Localisations of different channels are
    never merged.

    Use it for files without a linked or grouped column (ThunderSTORM before its merging step,
    plain tables); exports that already group detections (N-STORM ``Length``/``Link``, Zeiss
    ``Number Frames``) need none. ``default_precision`` (nm) stands in when the table has no
    uncertainty. Needs frames; ``meta["merged_blinks"]`` records how many were merged.

    Examples
    --------
    >>> locs = Localisations(x=[0.0, 3.0, 500.0], y=[0.0, 1.0, 0.0], frame=[1.0, 2.0, 2.0],
    ...                      uncertainty=[10.0, 10.0, 10.0])
    >>> merged = merge_blinks(locs)
    >>> len(merged), merged.x.tolist(), round(float(merged.uncertainty[0]), 3)
    (2, [1.5, 500.0], 7.071)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    where = f"{locs.source}: " if locs.source else ""
    if locs.frame is None:
        raise LocalisationError(f"{where}merging blinks needs a frame column")
    if max_gap < 1 or not sigmas > 0:
        raise ValueError("max_gap must be >= 1 and sigmas positive")
    n = len(locs)
    if n == 0:
        return locs
    u = (
        np.full(n, float(default_precision))
        if locs.uncertainty is None
        else np.asarray(locs.uncertainty, float)
    )
    radius = sigmas * np.sqrt(2.0) * float(u.max())
    # Frames far apart in a third coordinate: a ball of `radius` then holds one frame only.
    stride = 10.0 * (radius + float(np.ptp(locs.x)) + float(np.ptp(locs.y)) + 1.0)
    _, chan = np.unique(
        locs.channel if locs.channel is not None else np.zeros(n), return_inverse=True
    )
    base = np.column_stack(
        [locs.x, locs.y, (locs.frame + chan * (locs.frame.max() + 10 * max_gap + 10)) * stride]
    )
    tree = cKDTree(base)
    rows, cols = [], []
    for d in range(1, max_gap + 1):
        shifted = base.copy()
        shifted[:, 2] -= d * stride
        for i, near in enumerate(cKDTree(shifted).query_ball_tree(tree, r=radius)):
            for j in near:
                if np.hypot(locs.x[i] - locs.x[j], locs.y[i] - locs.y[j]) <= sigmas * np.hypot(
                    u[i], u[j]
                ):
                    rows.append(i)
                    cols.append(j)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    w = 1.0 / u**2
    wsum = np.bincount(label, weights=w, minlength=count)
    x = np.bincount(label, weights=w * locs.x, minlength=count) / wsum
    y = np.bincount(label, weights=w * locs.y, minlength=count) / wsum
    first = np.full(count, np.inf)
    np.minimum.at(first, label, locs.frame)
    rep = np.zeros(count, dtype=np.int64)
    rep[label[::-1]] = np.arange(n)[::-1]  # the first localisation of each emitter
    meta = dict(locs.meta)
    meta["merged_blinks"] = int(n - count)
    return Localisations(
        x=x,
        y=y,
        frame=first,
        uncertainty=None if locs.uncertainty is None else 1.0 / np.sqrt(wsum),
        channel=None if locs.channel is None else locs.channel[rep],
        source=locs.source,
        meta=meta,
    )
