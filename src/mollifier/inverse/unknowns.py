"""Unknowns of an inverse problem: constants and fields over some of the grid's axes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mollifier._options import check_fields

__all__ = ["Constant", "Field", "Namespace"]


@dataclass(frozen=True)
class Constant:
    """An unknown scalar coefficient.

    Parameters
    ----------
    init : float
        Starting value for the network solver (and the probe scale for affinity checks).
    positive : bool
        Constrain the value to be positive (the network solver optimises its logarithm; the
        direct solver reports a non-positive estimate as an error in the diagnostics).
    """

    init: float = 1.0
    positive: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        if self.positive and self.init <= 0:
            raise ValueError(f"Constant(positive=True) needs init > 0, got {self.init}")


@dataclass(frozen=True)
class Field:
    """An unknown field over some (or all) of the grid's axes, e.g. ``λ(x, y)`` or ``λ(t)``.

    Parameters
    ----------
    axes : tuple of str
        The grid axes the field varies along, in grid order; it is constant along the others.
    positive : bool
        Constrain the field to be positive.
    init : float
        Starting value (uniform) for the network solver.
    representation : {"auto", "channel", "grid"}
        How the network solver represents the field: an extra output channel of the network
        (``"channel"``, only for fields over all axes), one free parameter per node of its axes
        (``"grid"``), or ``"auto"`` (channel when the field spans every axis, grid otherwise).
    """

    axes: tuple[str, ...]
    positive: bool = False
    init: float = 1.0
    representation: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.axes, (str, list)):
            object.__setattr__(self, "axes", tuple(self.axes))
        check_fields(self)
        if not self.axes or len(set(self.axes)) != len(self.axes):
            raise ValueError(f"Field.axes must name one or more distinct axes, got {self.axes!r}")
        if self.representation not in ("auto", "channel", "grid"):
            raise ValueError(
                "Field.representation must be 'auto', 'channel' or 'grid', "
                f"got {self.representation!r}"
            )
        if self.positive and self.init <= 0:
            raise ValueError(f"Field(positive=True) needs init > 0, got {self.init}")


class Namespace(Mapping[str, Any]):
    """Read-only attribute access to named values: ``f.u`` for fields, ``p.nu`` for unknowns.

    A missing name raises ``AttributeError`` naming the available ones, so a typo in a residual
    gives a clear message instead of a silent wrong result.
    """

    def __init__(self, role: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_role", role)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            role = object.__getattribute__(self, "_role")
            raise AttributeError(
                f"the residual uses {role} {name!r}, but the {role}s are {sorted(values)}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("residual namespaces are read-only")

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __iter__(self) -> Iterator[str]:
        return iter(object.__getattribute__(self, "_values"))

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "_values"))

    def __repr__(self) -> str:
        role = object.__getattribute__(self, "_role")
        return f"Namespace({role}: {sorted(self)})"
