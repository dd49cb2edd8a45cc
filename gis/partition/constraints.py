"""Constraints: contiguity (hard), locks, and the checks that refuse impossible requests.

Contiguity is kept move by move: a unit may leave its grid only when the grid stays
connected without it. :func:`can_leave` decides that by a breadth-first search inside
the donor grid from one of the unit's same-grid neighbours, stopping as soon as all
of them are reached (usually a few steps around the unit; the whole grid only when
the unit really is a cut vertex). Locked units never move (the moves skip them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np

from gis.errors import InvalidInput, Problem


@numba.njit(cache=True)
def can_leave(v, labels, indptr, indices, stamp, queue, tick):
    """True when v's grid stays connected without v. ``stamp``/``queue`` are scratch.

    ``tick`` must be a fresh positive number per call (marks visited nodes in
    ``stamp`` without clearing it).
    """
    d = labels[v]
    first = -1
    need = 0
    for e in range(indptr[v], indptr[v + 1]):
        u = indices[e]
        if labels[u] == d and stamp[u] != -tick:
            stamp[u] = -tick  # target mark
            need += 1
            if first < 0:
                first = u
    if need <= 1:
        return True
    # BFS from first; visited mark = tick; targets found reduce need
    head = 0
    tail = 0
    queue[tail] = first
    tail += 1
    stamp[first] = tick
    need -= 1
    stamp[v] = tick  # never enter v
    while head < tail:
        x = queue[head]
        head += 1
        for e in range(indptr[x], indptr[x + 1]):
            u = indices[e]
            if labels[u] != d or stamp[u] == tick:
                continue
            if stamp[u] == -tick:
                need -= 1
                if need == 0:
                    return True
            stamp[u] = tick
            queue[tail] = u
            tail += 1
    return False


@numba.njit(cache=True)
def label_parts(indptr, indices, labels):
    """Component id per unit within its own label; -1 for a unit whose label is negative
    (unlabelled)."""
    n = len(labels)
    comp = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    c = 0
    for s in range(n):
        if comp[s] >= 0 or labels[s] < 0:
            continue
        comp[s] = c
        top = 1
        stack[0] = s
        while top > 0:
            top -= 1
            x = stack[top]
            for e in range(indptr[x], indptr[x + 1]):
                u = indices[e]
                if comp[u] < 0 and labels[u] == labels[x]:
                    comp[u] = c
                    stack[top] = u
                    top += 1
        c += 1
    return comp


@numba.njit(cache=True)
def noncontiguous_grids(indptr, indices, labels, k):
    """How many of the k grids are not connected (or empty)."""
    comp = label_parts(indptr, indices, labels)
    pieces = np.zeros(k, dtype=np.int64)
    counted = np.zeros(len(labels), dtype=np.bool_)
    for v in range(len(labels)):
        if not counted[comp[v]]:
            counted[comp[v]] = True
            pieces[labels[v]] += 1
    bad = 0
    for d in range(k):
        if pieces[d] != 1:
            bad += 1
    return bad


# ------------------------------------------------------------------ request checks


def check_k(k: int, n_units: int, where: str = "") -> None:
    """k must be a positive integer no larger than the number of units."""
    at, at_zh = (f" in {where}", f"（{where}）") if where else ("", "")
    if not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(
            f"k must be a positive integer, got {k!r}", f"网格数 k 必须为正整数，收到 {k!r}"
        )
    if k > n_units:
        raise InvalidInput(
            f"k = {k} is larger than the number of units ({n_units}){at}; "
            "use smaller cells or fewer grids",
            f"网格数 k = {k} 大于单元数（{n_units}）{at_zh}；请用更小的单元或更少的网格",
        )


def check_weights(frame, names: list[str]) -> dict[str, np.ndarray]:
    """Weight columns as float arrays; missing, non-numeric, negative or empty ones refused."""
    problems: list[Problem] = []
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in frame.columns:
            problems.append(
                Problem(f"weight column {name!r} is missing", f"缺少权重字段 {name!r}", field=name)
            )
            continue
        try:
            w = frame[name].to_numpy(dtype=float)
        except (TypeError, ValueError):
            problems.append(
                Problem(
                    f"weight column {name!r} is not numeric", f"权重字段 {name!r} 不是数值",
                    field=name,
                )
            )
            continue
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        for r in bad[:20]:
            problems.append(
                Problem(
                    f"weight {name!r} is negative or not a number ({w[r]})",
                    f"权重 {name!r} 为负数或非数值（{w[r]}）",
                    row=int(r),
                    field=name,
                )
            )
        if len(bad) == 0 and w.sum() <= 0:
            problems.append(
                Problem(
                    f"weight column {name!r} sums to zero", f"权重字段 {name!r} 总和为零",
                    field=name,
                )
            )
        out[name] = w
    if problems:
        raise InvalidInput("Weights cannot be balanced", "权重无法用于均衡划分", problems)
    if not names:
        raise InvalidInput("Give at least one weight to balance", "请至少指定一个均衡权重")
    return out


def check_tries(tries, most: int | None = None) -> None:
    """``tries`` (solves of :func:`gis.partition.solver.partition`) must be a whole
    number of at least 1, and at most ``most`` when given (a job's cap)."""
    ok = isinstance(tries, int | np.integer) and not isinstance(tries, bool) and tries >= 1
    if ok and (most is None or tries <= most):
        return
    span, span_zh = (f"from 1 to {most}", f"1 到 {most} 的") if most else ("of at least 1", "不小于 1 的")
    raise InvalidInput(f"tries must be a whole number {span}, got {tries!r}",
                       f"尝试次数 tries 必须为{span_zh}整数，收到 {tries!r}",
                       [Problem(f"not a whole number {span}", f"不是{span_zh}整数", field="tries")])


def tolerances(tolerance, names: list[str]) -> np.ndarray:
    """One tolerance per weight (in the order of ``names``) from a number, the same for
    every weight, or a mapping weight -> tolerance that names every balanced weight.

    Why per weight: planners often hold the workload tight and let the area go wider
    (enterprises within 2 %, area within 10 %); what a looser weight does not need is
    room the compactness phase can use.
    """
    if isinstance(tolerance, Mapping):
        unknown = [str(nm) for nm in tolerance if nm not in names]
        missing = [nm for nm in names if nm not in tolerance]
        if unknown or missing:
            raise InvalidInput(
                "A tolerance per weight must name every balanced weight and no other "
                f"(missing: {missing}, not balanced: {unknown})",
                f"按权重给出的容差必须覆盖每个均衡权重且不含其他权重（缺少：{missing}，未均衡：{unknown}）",
                [Problem("no tolerance given", "未给出容差", field=nm) for nm in missing]
                + [Problem("not a balanced weight", "不是均衡权重", field=nm) for nm in unknown],
            )
        given = [(nm, tolerance[nm]) for nm in names]
    else:
        given = [(None, tolerance)] * len(names)
    out = []
    for nm, v in given:
        try:
            ok = not isinstance(v, bool) and 0.0 < float(v) < 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            what, what_zh = (f"tolerance for {nm!r}", f"权重 {nm!r} 的均衡容差") if nm else ("tolerance", "均衡容差")
            raise InvalidInput(
                f"{what} must be between 0 and 1, got {v}",
                f"{what_zh}必须在 0 与 1 之间，收到 {v}",
                [Problem("not between 0 and 1", "不在 0 与 1 之间", field=nm)] if nm else [],
            )
        out.append(float(v))
    return np.array(out)


def check_indivisible(
    weights: dict[str, np.ndarray], k: int, tolerance: float | Mapping[str, float], unit_names,
    where: str = "", rows: np.ndarray | None = None,
) -> None:
    """Refuse when one unit alone exceeds (1 + tolerance) x the mean grid weight
    (``tolerance``: a number, or one per weight name; ``rows``: the units' row positions
    in the caller's input, for the problems)."""
    problems: list[Problem] = []
    for name, w in weights.items():
        mean = w.sum() / k
        tol = float(tolerance[name] if isinstance(tolerance, Mapping) else tolerance)
        heavy = np.flatnonzero(w > (1.0 + tol) * mean)
        for r in heavy[:20]:
            problems.append(
                Problem(
                    f"unit {unit_names[r]} alone has {name} = {w[r]:g}, "
                    f"{100.0 * w[r] / mean:.1f} % of the mean grid ({mean:g}); "
                    f"no grid holding it can be within {100.0 * tol:g} %",
                    f"单元 {unit_names[r]} 的 {name} = {w[r]:g}，为网格平均值（{mean:g}）的 "
                    f"{100.0 * w[r] / mean:.1f} %，含它的网格无法控制在 {100.0 * tol:g} % 以内",
                    row=int(r if rows is None else rows[r]),
                    field=name,
                )
            )
    if problems:
        at, at_zh = (f" in {where}", f"（{where}）") if where else ("", "")
        raise InvalidInput(
            f"The tolerance cannot be met{at}: an indivisible unit is too heavy; "
            "raise the tolerance, lower k or split the unit",
            f"均衡容差无法满足{at_zh}：有不可分割的单元过重；请放宽容差、减少网格数或拆分该单元",
            problems,
        )
