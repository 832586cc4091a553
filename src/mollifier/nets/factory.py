"""Build a coordinate network by its short name (the benchmark harness and scripts use it)."""

from __future__ import annotations

import inspect
from typing import Any

import torch  # noqa: F401  (the doctest uses it)
from torch import nn

from mollifier.nets._common import ARCHITECTURES
from mollifier.nets.mlp import MLP
from mollifier.nets.pinnsformer import PINNsFormer
from mollifier.nets.pirate import PirateNet

__all__ = ["build_network"]


def build_network(arch: str, *, in_features: int, out_features: int, **options: Any) -> nn.Module:
    """Build a coordinate network by name.

    Parameters
    ----------
    arch : {"mlp", "pirate", "pinnsformer"}
        ``"mlp"`` → :class:`~mollifier.nets.mlp.MLP`, ``"pirate"`` →
        :class:`~mollifier.nets.pirate.PirateNet`, ``"pinnsformer"`` →
        :class:`~mollifier.nets.pinnsformer.PINNsFormer`.
    in_features, out_features : int
        Number of input coordinates and of output fields.
    **options
        Further keyword arguments of the chosen class's constructor (``hidden``, ``depth``,
        ``lower``, ``upper``, ...). Every option is passed on; none is dropped.

    Returns
    -------
    torch.nn.Module
        The network, mapping ``(N, in_features)`` to ``(N, out_features)``.

    Raises
    ------
    ValueError
        For an unknown ``arch`` (the message lists the valid names), or invalid option values.
    TypeError
        For an option that the chosen class does not accept (the message lists those it does).

    Examples
    --------
    >>> net = build_network("mlp", in_features=2, out_features=1, hidden=8, depth=2)
    >>> tuple(net(torch.zeros(5, 2)).shape)
    (5, 1)
    """
    classes: dict[str, type[nn.Module]] = {
        "mlp": MLP,
        "pirate": PirateNet,
        "pinnsformer": PINNsFormer,
    }
    if arch not in classes:
        raise ValueError(
            f"unknown network architecture {arch!r}; valid choices are "
            + ", ".join(repr(a) for a in ARCHITECTURES)
        )
    cls = classes[arch]
    accepted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and p.name not in ("in_features", "out_features")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"{cls.__name__} (arch={arch!r}) got unknown option(s) {unknown}; it accepts {accepted}"
        )
    return cls(in_features=in_features, out_features=out_features, **options)
