"""Why a partition missed its tolerance: blocks of grids and the part of the area they cover.

A result outside the tolerance is not silently degraded: the planner is told which
grids miss, on which weight, and whether the part of the area around them holds its
share of that weight at all. Two cases need different answers:

- *regional*: the grids that miss, taken together with the grids around them, still
  hold clearly less (or more) of the weight than their number of grids calls for
  (Jinshan cells at k = 50, seed 0: 4 grids of the western lobe, joined to the rest
  by a narrow neck, are 23.5-25 % short of enterprises, 24.2 % together, still 10.8 %
  with the 4 grids around them). Moving units between grids cannot fix that;
  partitioning that part on its own with its own k, or a looser tolerance, can.
- *local*: the part of the area holds its share, the moves did not find the balance
  (another seed may).

A block is the worst grid of a weight and the grids around it, sharing borders, that
are off on the same weight and side beyond their allowance (the tolerance, or the
heaviest unit where one unit alone is heavier). When more than half the grids miss on
a weight, a first note says so: then the weights themselves are the problem, not a
part of the area.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gis.partition.graph import UnitGraph, grid_neighbours

#: weights named in Chinese in the notes (others by their column name)
WEIGHT_ZH = {"enterprises": "企业数", "weighted_enterprises": "加权企业数", "incidents": "事件数", "area": "面积"}


@dataclass
class Shortfall:
    """The block of grids around the worst grid on ``weight``.

    ``grids`` are grid numbers (as in ``labels_``); ``grid_dev_pct`` their lowest and
    highest deviation on ``weight``; ``block_dev_pct`` the block's deviation taken
    together (its sum against its number of grids' share); ``ring`` the number of grids
    bordering the block and ``ring_dev_pct`` the deviation of block and ring together.
    """

    grids: list[int]
    weight: str
    grid_dev_pct: tuple[float, float]
    block_dev_pct: float
    ring: int
    ring_dev_pct: float
    regional: bool
    others: int = 0  # grids outside on the same weight elsewhere

    def shifted(self, offset: int) -> Shortfall:
        """The same block with grid numbers moved by ``offset`` (nested parents)."""
        return replace(self, grids=[g + offset for g in self.grids])


def shortfalls(g: UnitGraph, labels: np.ndarray, w: np.ndarray, k: int, allow: np.ndarray,
               tol: np.ndarray, names: list[str]) -> list[Shortfall]:
    """Per weight with grids outside ``allow`` (``w`` normalised to a mean of 1 per
    grid), the block around its worst grid: the connected grids off on that weight on
    the same side. The block is *regional* when, with the grids bordering it, it is
    still off on that side by more than its weight's tolerance (``tol``, one per weight).
    Worst first."""
    tallies = np.zeros((k, w.shape[1]))
    np.add.at(tallies, labels, w)
    dev = tallies - 1.0
    excess = np.abs(dev) - allow[None, :]
    if not (excess > 1e-9).any():
        return []
    nb = grid_neighbours(g, labels, k)
    found = []
    for j in np.flatnonzero((excess > 1e-9).any(axis=0)):
        worst = int(excess[:, j].argmax())
        side = np.sign(dev[worst, j])
        off = (excess[:, j] > 1e-9) & (np.sign(dev[:, j]) == side)
        block = [worst]
        for d in block:  # grows while it is walked
            block += [x for x in sorted(nb[d]) if off[x] and x not in block]
        ring = sorted(set().union(*(nb[d] for d in block)) - set(block))
        both = block + ring
        ring_dev = float(tallies[both, j].sum() / len(both) - 1.0)
        found.append((float(excess[worst, j]), Shortfall(
            sorted(block), names[j],
            (float(100 * dev[block, j].min()), float(100 * dev[block, j].max())),
            float(100 * (tallies[block, j].sum() / len(block) - 1.0)), len(ring),
            100 * ring_dev, bool(side * ring_dev > tol[j]),
            int((excess[:, j] > 1e-9).sum()) - len(block),
        )))
    found.sort(key=lambda t: -t[0])
    return [f for _, f in found]


def shortfall_notes(found: list[Shortfall], names: list[str], k: int,
                    listed: int = 10) -> list[tuple[str, str]]:
    """Bilingual notes for ``found``, grids called by ``names`` (codes, or numbers), at
    most ``listed`` of them named per block. When more than half the grids miss on a
    weight, a first note says that the weights, not a part of the area, are the problem."""
    notes = []
    for s in found:
        n = len(s.grids) + s.others
        zh_w = WEIGHT_ZH.get(s.weight, s.weight)
        if 2 * n > k:
            notes.append((
                f"{n} of {k} grids miss the tolerance on {s.weight}, across the whole area: "
                "the weights are spread too unevenly for this many grids of equal shares "
                "(where one weight is clustered, every grid must reach into a cluster for its "
                "share); use fewer grids, smaller units or a looser tolerance",
                f"{k} 个网格中有 {n} 个的{zh_w}未达到容差，遍及全区：各权重分布过于不均，无法划成这么多份额相等的网格"
                "（某一权重成片聚集时，每个网格都须伸入聚集区才能取得其份额）；请减少网格数、使用更小的单元或放宽容差",
            ))
    for s in found:
        zh_w = WEIGHT_ZH.get(s.weight, s.weight)
        grids = ", ".join(names[g] for g in s.grids[:listed])
        if len(s.grids) > listed:
            grids += f" (+{len(s.grids) - listed})"
        lo, hi = s.grid_dev_pct
        more_en = f"; {s.others} more grid(s) miss it elsewhere" if s.others else ""
        more_zh = f"；另有 {s.others} 个网格同样未达到" if s.others else ""
        head_en = f"Grids {grids} miss the tolerance on {s.weight} ({lo:+.1f} to {hi:+.1f} %)"
        head_zh = f"网格 {grids} 的{zh_w}未达到容差（{lo:+.1f}% 至 {hi:+.1f}%）"
        if s.regional:
            short = s.block_dev_pct < 0
            notes.append((
                f"{head_en}. Together they hold {s.block_dev_pct:+.1f} % {s.weight} against "
                f"their share, and with the {s.ring} grids around them still "
                f"{s.ring_dev_pct:+.1f} %: that part of the area holds too "
                f"{'small' if short else 'large'} a share of {s.weight} for its grids, which "
                "moving units between grids cannot fix; partition it on its own with its own k "
                "(e.g. its town or village as the parent grid) or loosen the tolerance"
                f"{more_en}",
                f"{head_zh}。这些网格合计的{zh_w}比应有份额{'少' if short else '多'} "
                f"{abs(s.block_dev_pct):.1f}%，连同周边 {s.ring} 个网格仍{'少' if short else '多'} "
                f"{abs(s.ring_dev_pct):.1f}%：该片区的{zh_w}相对其网格数过{'少' if short else '多'}，"
                "在网格之间调整单元无法解决；可将该片区单独划分并指定网格数（如以其所在镇街或村居为上级网格），"
                f"或放宽容差{more_zh}",
            ))
        else:
            notes.append((
                f"{head_en}, although with the {s.ring} grids around them they hold their "
                f"share ({s.ring_dev_pct:+.1f} %): the moves did not find the balance here; "
                f"another seed may{more_en}",
                f"{head_zh}，但连同周边 {s.ring} 个网格合计接近应有份额（{s.ring_dev_pct:+.1f}%）："
                f"本次调整未找到均衡解，可换一个随机种子重试{more_zh}",
            ))
    return notes
