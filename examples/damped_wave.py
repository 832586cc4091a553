"""A custom residual for ``mollifier fit``: the damped wave equation u_tt + γ u_t = c² u_xx.

Both coefficients enter linearly, so the direct solver applies; every term is mollified.
"""


def residual(f, d, p):
    return d(f.u, "tt") + p.gamma * d(f.u, "t") - p.c2 * d(f.u, "xx")
