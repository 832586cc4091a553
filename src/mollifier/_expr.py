"""Arithmetic expressions of coordinate names, evaluated with numpy and nothing else."""

from __future__ import annotations

import ast
from collections.abc import Mapping

import numpy as np

__all__ = ["FUNCTIONS", "check_expression", "evaluate_expression"]

#: The names an expression may use besides the coordinates.
FUNCTIONS: dict[str, object] = {
    "pi": np.pi,
    "e": np.e,
    **{
        name: getattr(np, name)
        for name in (
            "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
            "exp", "log", "log10", "sqrt", "abs", "minimum", "maximum", "where", "heaviside",
        )
    },
}  # fmt: skip
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.USub, ast.UAdd)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def check_expression(text: str) -> ast.Expression:
    """Parse ``text`` and refuse anything but numbers, names, arithmetic, comparisons and calls of
    plain names (no attributes, subscripts, keywords or literals other than numbers)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a valid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        ok = isinstance(
            node,
            (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Load,
             *_OPERATORS, *_COMPARISONS),
        )  # fmt: skip
        if isinstance(node, ast.Constant):
            ok = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        elif isinstance(node, ast.Call):
            ok = isinstance(node.func, ast.Name) and not node.keywords
        if not ok:
            raise ValueError(
                f"{ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__!s} "
                "is not allowed: use numbers, coordinate names, + - * / ** %, comparisons and "
                f"the functions {sorted(FUNCTIONS)}"
            )
    return tree


def evaluate_expression(text: str, coords: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate ``text`` on the tensor grid of ``coords`` (axis name to 1-D vector, grid order).

    Each coordinate name stands for its values broadcast over the grid (``indexing="ij"``); the
    other names are :data:`FUNCTIONS`. No Python builtins are reachable. The result is a
    ``float64`` array of the grid's shape (a constant expression fills the grid).

    Examples
    --------
    >>> g = evaluate_expression("1 + x*y", {"x": np.array([0.0, 1.0]), "y": np.array([2.0, 3.0])})
    >>> g.tolist()
    [[1.0, 1.0], [3.0, 4.0]]
    """
    tree = check_expression(text)
    axes = list(coords)
    shape = tuple(np.asarray(c).size for c in coords.values())
    namespace: dict[str, object] = dict(FUNCTIONS)
    for i, (name, c) in enumerate(coords.items()):
        view = [1] * len(axes)
        view[i] = -1
        namespace[name] = np.asarray(c, dtype=float).reshape(view)
    unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(namespace))
    if unknown:
        raise ValueError(
            f"unknown name(s) {unknown}; the coordinates are {axes} and the functions "
            f"{sorted(FUNCTIONS)}"
        )
    code = compile(tree, "<expression>", "eval")
    with np.errstate(all="ignore"):
        value = eval(code, {"__builtins__": {}}, namespace)
    return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()
