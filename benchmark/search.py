"""Search spaces in suites: grids (cross products of value lists) and seeded random search, for optimizer
settings and for a regularizer's own hyperparameters, expanded into plain points when the suite is read.

A random search draws its points one after another from numpy's seeded Generator (PCG64, the same numbers on
every machine and Python version), every dimension of a point in a fixed (sorted) order: point i depends only
on the seed and the points before it, so raising ``n`` adds points and keeps the first ones exactly.
"""
from __future__ import annotations

import math
from itertools import product
from typing import Any, Callable

import numpy as np

from .errors import shown

MAX_RUNS = 100_000  # a sweep past this is a typo, not a study
DISTRIBUTIONS = ("uniform", "log_uniform", "choice")

Fail = Callable[[str, str], Exception]  # (field, message) -> the error to raise


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def grid_points(space: Any, where: str, fail: Fail, *, allowed: tuple[str, ...]) -> list[dict]:
    """The cross product of ``space``'s value lists (a scalar is a list of one), keys in ``allowed`` order."""
    if not isinstance(space, dict) or not space:
        raise fail(where, f"must be a non-empty mapping of {' / '.join(allowed)} to lists of values")
    _known(space, where, fail, allowed)
    axes = {}
    for key in _ordered(space, allowed):
        values = space[key] if isinstance(space[key], list) else [space[key]]
        if not values:
            raise fail(f"{where}.{key}", "empty list (give at least one value)")
        axes[key] = values
    size = math.prod(len(v) for v in axes.values())
    if size > MAX_RUNS:
        raise fail(where, f"expands to {size:,} points, more than {MAX_RUNS:,}")
    return [dict(zip(axes, combo)) for combo in product(*axes.values())]


def random_points(space: Any, where: str, fail: Fail, *, allowed: tuple[str, ...]) -> list[dict]:
    """``n`` points drawn with ``seed``: each key a distribution ({uniform: [lo, hi]}, {log_uniform: [lo, hi]},
    {choice: [...]}) or a constant."""
    if not isinstance(space, dict):
        raise fail(where, "must be a mapping with n, seed and the dimensions to draw")
    _known(space, where, fail, ("n", "seed", *allowed))
    for key in ("n", "seed"):
        if key not in space:
            raise fail(f"{where}.{key}", "missing (a random search needs n and seed)")
    n, seed = space["n"], space["seed"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise fail(f"{where}.n", f"must be an integer >= 1, got {shown(n)}")
    if n > MAX_RUNS:
        raise fail(f"{where}.n", f"{n:,} points, more than {MAX_RUNS:,}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise fail(f"{where}.seed", f"must be an integer >= 0, got {shown(seed)}")
    keys = sorted(k for k in space if k not in ("n", "seed"))
    if not keys:
        raise fail(where, f"draws nothing: give at least one of {', '.join(allowed)}")
    draws = {key: _sampler(space[key], f"{where}.{key}", fail) for key in keys}
    rng = np.random.default_rng(seed)
    points = [{key: draws[key](rng) for key in keys} for _ in range(n)]
    return [{key: p[key] for key in _ordered(p, allowed)} for p in points]


def _sampler(spec: Any, where: str, fail: Fail) -> Callable[[np.random.Generator], Any]:
    if not isinstance(spec, dict):  # a constant: the same in every point
        if isinstance(spec, (list, tuple)):
            raise fail(where, "a list here is ambiguous: write {choice: [...]} to draw from it")
        return lambda rng: spec
    if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise fail(where, f"unknown distribution {', '.join(map(str, spec)) or '{}'} (one of: "
                          f"{', '.join(DISTRIBUTIONS)}, or a constant)")
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise fail(f"{where}.choice", "must be a non-empty list")
        return lambda rng: args[int(rng.integers(len(args)))]
    if not (isinstance(args, list) and len(args) == 2 and all(_number(a) for a in args)
            and all(math.isfinite(a) for a in args)):
        raise fail(f"{where}.{kind}", f"must be [low, high], two finite numbers, got {shown(args)}")
    low, high = float(args[0]), float(args[1])
    if not low < high:
        raise fail(f"{where}.{kind}", f"low must be below high, got [{args[0]}, {args[1]}]")
    if kind == "uniform":
        return lambda rng: float(rng.uniform(low, high))
    if low <= 0:
        raise fail(f"{where}.{kind}", f"needs bounds > 0 (it draws the logarithm uniformly), got [{args[0]}, {args[1]}]")
    return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _known(space: dict, where: str, fail: Fail, allowed) -> None:
    unknown = sorted(set(space) - set(allowed), key=str)
    if unknown:
        raise fail(f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(allowed)})")


def _ordered(point: dict, allowed: tuple[str, ...]) -> list[str]:
    return sorted(point, key=lambda k: (allowed.index(k) if k in allowed else len(allowed), k))


def value_text(value: Any) -> str:
    """A value as it appears in a name: 4 significant digits for floats (2.0e-4 -> 0.0002)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def point_name(point: dict, abbreviations: dict[str, str] | None = None) -> str:
    """``key=value`` pairs joined by commas, e.g. lr=0.001,b1=0.5,b2=0.9,nd=5."""
    abbreviations = abbreviations or {}
    return ",".join(f"{abbreviations.get(k, k)}={value_text(v)}" for k, v in point.items())
