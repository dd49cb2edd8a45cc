"""Compiled kernels of :class:`gis.lookup.index.GridIndex` (numba, cached on disk).

The index is a uniform raster of square cells over the grids' extent.

* A cell no edge comes near (within ``delta``) lies wholly inside one grid or
  outside all: it holds that grid's row position, or -1.
* A *mixed* cell keeps the edges touching it (its own copy of their coordinates,
  in cell order) and the grids they belong to, sorted by rank, plus which of those
  grids cover its reference point ``R = (X1, yr)``: ``X1`` the cell's right
  boundary, ``yr`` the reference line of its row. Nothing else can cover any
  point of the cell.

A point ``P`` in a mixed cell is answered exactly: P is covered by grid g when it
lies on one of g's edges in the cell (ST_Covers: the boundary belongs to the
polygon), else when g covers R and the path P -> (X1, py) -> R crosses g's
boundary an even number of times (or g does not cover R and it crosses an odd
number of times). The path stays inside the cell, so only the cell's edges can
cross it. Crossings are decided with exact orientation predicates (a float filter
with an exact expansion fallback), and the path is perturbed symbolically to
``py + eps`` (the half-open rule of the crossing-number test), so points exactly
on edges and vertices, horizontal and vertical edges, and edges through the
corner (X1, py) all have one consistent answer. The build makes the perturbation
well defined: no vertex has ``x == X1`` of any column line, no vertex has
``y == yr`` of any row, and no edge passes through any reference point R.

Inside is even-odd over all rings of a grid (exterior, holes and every part of a
multipolygon), which is ST_Covers' interior for valid (multi)polygons.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_EPS = 1.1102230246251565e-16  # 2**-53
_CCW_ERRBOUND_A = (3.0 + 16.0 * _EPS) * _EPS
_SPLITTER = 134217729.0  # 2**27 + 1

# ---------------------------------------------------------------- exact orientation


@njit(cache=True, nogil=True, inline="always")
def _two_sum(a, b):
    x = a + b
    bv = x - a
    av = x - bv
    return x, (a - av) + (b - bv)


@njit(cache=True, nogil=True, inline="always")
def _two_product(a, b):
    x = a * b
    c = _SPLITTER * a
    ahi = c - (c - a)
    alo = a - ahi
    c = _SPLITTER * b
    bhi = c - (c - b)
    blo = b - bhi
    err = x - ahi * bhi
    err -= alo * bhi
    err -= ahi * blo
    return x, alo * blo - err


@njit(cache=True, nogil=True)
def orient_exact(ax, ay, bx, by, cx, cy):
    """Exact sign of the orientation of (a, b, c): +1 counter-clockwise, -1 clockwise, 0 collinear.

    det = (ax-cx)(by-cy) - (ay-cy)(bx-cx) expanded into six products of input
    coordinates, each split exactly into two doubles, summed into a nonoverlapping
    expansion (Shewchuk's Grow-Expansion); the sign of the sum is that of its
    largest component.
    """
    e = np.zeros(12)
    m = 0
    terms = np.empty(12)
    terms[0], terms[1] = _two_product(ax, by)
    terms[2], terms[3] = _two_product(-ax, cy)
    terms[4], terms[5] = _two_product(-cx, by)
    terms[6], terms[7] = _two_product(-ay, bx)
    terms[8], terms[9] = _two_product(ay, cx)
    terms[10], terms[11] = _two_product(cy, bx)
    for t in range(12):
        q = terms[t]
        for i in range(m):
            q, h = _two_sum(q, e[i])
            e[i] = h
        e[m] = q
        m += 1
    for i in range(m - 1, -1, -1):
        if e[i] > 0.0:
            return 1
        if e[i] < 0.0:
            return -1
    return 0


@njit(cache=True, nogil=True, inline="always")
def orient(ax, ay, bx, by, cx, cy):
    """Sign of the orientation of (a, b, c), exact: float filter, exact fallback."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    bound = _CCW_ERRBOUND_A * (abs(detleft) + abs(detright))
    if det > bound:
        return 1
    if -det > bound:
        return -1
    return orient_exact(ax, ay, bx, by, cx, cy)


# ---------------------------------------------------------------- query


@njit(cache=True, nogil=True, inline="always")
def _mixed_cover(px, py, x1, yr, e0, e1, k0, k, ec, el, gref, par, on):
    """Fill par[:k] | on[:k]: which local grids of a mixed cell cover (px, py)."""
    for q in range(k):
        par[q] = gref[k0 + q]
        on[q] = 0
    for t in range(e0, e1):
        code = el[t]
        loc = code >> 2
        if on[loc]:
            continue
        ax = ec[t, 0]
        ay = ec[t, 1]
        bx = ec[t, 2]
        by = ec[t, 3]
        sq = 2  # orientation of (x1, py), computed at most once
        if ay <= by:
            ylo = ay
            yhi = by
        else:
            ylo = by
            yhi = ay
        if ylo <= py <= yhi:
            if ay == by:
                # horizontal: on it or not; never crossed by the perturbed ray
                if (ax <= px <= bx) or (bx <= px <= ax):
                    on[loc] = 1
                    continue
            else:
                sp = orient(ax, ay, bx, by, px, py)
                if sp == 0:
                    # collinear with y in range of a non-horizontal edge: on it
                    on[loc] = 1
                    continue
                if py < yhi:  # half-open rule
                    up = by > ay
                    right_p = (sp > 0) if up else (sp < 0)
                    sq = orient(ax, ay, bx, by, x1, py)
                    if sq == 0:
                        right_q = (bx > ax) == up
                    else:
                        right_q = (sq > 0) if up else (sq < 0)
                    if right_p != right_q:
                        par[loc] ^= 1
        if code & 1:
            # the edge crosses the column line x = x1: the vertical leg (x1, py+eps) -> (x1, yr)
            if sq == 2:
                sq = orient(ax, ay, bx, by, x1, py)
            above_q = (sq < 0) if bx > ax else (sq > 0)
            above_r = (code & 2) != 0
            if above_q != above_r:
                par[loc] ^= 1


@njit(cache=True, nogil=True, inline="always")
def _cell_of(px, py, prm, ncols, nrows):
    """Cell index of a point, or -1 outside the raster (NaN included)."""
    ox = prm[0]
    oy = prm[1]
    if not (px >= ox and px <= prm[4] and py >= oy and py <= prm[5]):
        return -1
    col = int((px - ox) * prm[3])
    row = int((py - oy) * prm[3])
    if col >= ncols:
        col = ncols - 1
    if row >= nrows:
        row = nrows - 1
    return row * ncols + col


@njit(cache=True, nogil=True, inline="always")
def _locate_point(px, py, prm, ncols, nrows, cellval, colx, yrs, mstart, ec, el, gid, gref, par, on):
    c = _cell_of(px, py, prm, ncols, nrows)
    if c < 0:
        return -1
    v = cellval[c]
    if v >= -1:
        return v
    mid = -2 - v
    row = c // ncols
    col = c - row * ncols
    k0 = mstart[mid, 1]
    k = mstart[mid + 1, 1] - k0
    _mixed_cover(px, py, colx[col + 1], yrs[row], mstart[mid, 0], mstart[mid + 1, 0], k0, k, ec, el, gref, par, on)
    for q in range(k):
        if par[q] or on[q]:
            return gid[k0 + q]
    return -1


@njit(cache=True, nogil=True)
def locate_batch(xs, ys, out, prm, ncols, nrows, maxk, cellval, colx, yrs, mstart, ec, el, gid, gref):
    """out[i] = owner of (xs[i], ys[i]) by the boundary rule, -1 where none covers it."""
    par = np.empty(maxk, dtype=np.uint8)
    on = np.empty(maxk, dtype=np.uint8)
    ox = prm[0]
    oy = prm[1]
    inv = prm[3]
    xmax = prm[4]
    ymax = prm[5]
    for i in range(xs.shape[0]):
        px = xs[i]
        py = ys[i]
        if not (px >= ox and px <= xmax and py >= oy and py <= ymax):
            out[i] = -1
            continue
        col = min(int((px - ox) * inv), ncols - 1)
        row = min(int((py - oy) * inv), nrows - 1)
        v = cellval[row * ncols + col]
        if v >= -1:
            out[i] = v
            continue
        mid = -2 - v
        k0 = mstart[mid, 1]
        k = mstart[mid + 1, 1] - k0
        _mixed_cover(px, py, colx[col + 1], yrs[row], mstart[mid, 0], mstart[mid + 1, 0], k0, k, ec, el, gref, par, on)
        res = -1
        for q in range(k):
            if par[q] or on[q]:
                res = gid[k0 + q]
                break
        out[i] = res


@njit(cache=True, nogil=True)
def locate_one(px, py, prm, ncols, nrows, maxk, cellval, colx, yrs, mstart, ec, el, gid, gref):
    par = np.empty(maxk, dtype=np.uint8)
    on = np.empty(maxk, dtype=np.uint8)
    return _locate_point(px, py, prm, ncols, nrows, cellval, colx, yrs, mstart, ec, el, gid, gref, par, on)


@njit(cache=True, nogil=True)
def covering_one(px, py, prm, ncols, nrows, maxk, cellval, colx, yrs, mstart, ec, el, gid, gref):
    """Every grid covering the point, in rank order (the owner first)."""
    c = _cell_of(px, py, prm, ncols, nrows)
    if c < 0:
        return np.empty(0, dtype=np.int64)
    v = cellval[c]
    if v >= -1:
        if v == -1:
            return np.empty(0, dtype=np.int64)
        res = np.empty(1, dtype=np.int64)
        res[0] = v
        return res
    mid = -2 - v
    row = c // ncols
    col = c - row * ncols
    k0 = mstart[mid, 1]
    k = mstart[mid + 1, 1] - k0
    par = np.empty(maxk, dtype=np.uint8)
    on = np.empty(maxk, dtype=np.uint8)
    _mixed_cover(px, py, colx[col + 1], yrs[row], mstart[mid, 0], mstart[mid + 1, 0], k0, k, ec, el, gref, par, on)
    n = 0
    for q in range(k):
        if par[q] or on[q]:
            n += 1
    res = np.empty(n, dtype=np.int64)
    n = 0
    for q in range(k):
        if par[q] or on[q]:
            res[n] = gid[k0 + q]
            n += 1
    return res


# ---------------------------------------------------------------- build


@njit(cache=True, nogil=True)
def _edge_rows(ay, by, oy, inv, delta, nrows):
    lo = min(ay, by) - delta
    hi = max(ay, by) + delta
    r0 = int(np.floor((lo - oy) * inv))
    r1 = int(np.floor((hi - oy) * inv))
    return max(r0, 0), min(r1, nrows - 1)


@njit(cache=True, nogil=True)
def raster_pairs(edges, ox, oy, size, ncols, nrows, delta, counts, cursor, pair_edge):
    """Conservative rasterisation: every cell each edge comes within ``delta`` of.

    With ``pair_edge`` empty, counts the edges of each cell into ``counts``;
    otherwise writes each edge at ``cursor[cell]`` (advancing it): CSR by cell.
    """
    inv = 1.0 / size
    do_fill = pair_edge.shape[0] > 0
    for e in range(edges.shape[0]):
        ax = edges[e, 0]
        ay = edges[e, 1]
        bx = edges[e, 2]
        by = edges[e, 3]
        exlo = min(ax, bx)
        exhi = max(ax, bx)
        r0, r1 = _edge_rows(ay, by, oy, inv, delta, nrows)
        for r in range(r0, r1 + 1):
            ylo = oy + r * size - delta
            yhi = oy + (r + 1) * size + delta
            if ay == by:
                xlo = exlo
                xhi = exhi
            else:
                t0 = (max(ylo, min(ay, by)) - ay) / (by - ay)
                t1 = (min(yhi, max(ay, by)) - ay) / (by - ay)
                xa = ax + t0 * (bx - ax)
                xb = ax + t1 * (bx - ax)
                xlo = max(min(xa, xb), exlo)
                xhi = min(max(xa, xb), exhi)
            c0 = max(int(np.floor((xlo - delta - ox) * inv)), 0)
            c1 = min(int(np.floor((xhi + delta - ox) * inv)), ncols - 1)
            for c in range(c0, c1 + 1):
                cell = r * ncols + c
                if do_fill:
                    pair_edge[cursor[cell]] = e
                    cursor[cell] += 1
                else:
                    counts[cell] += 1


@njit(cache=True, nogil=True, inline="always")
def _crossing_left_of(ax, ay, bx, by, x, y):
    """For an edge crossing the line y (strictly), is its crossing left of x? 0: through (x, y)."""
    s = orient(ax, ay, bx, by, x, y)
    if s == 0:
        return 0
    if by > ay:
        return 1 if s < 0 else -1
    return 1 if s > 0 else -1


@njit(cache=True, nogil=True)
def row_crossings(edges, grid_of, oy, size, nrows, delta, colx, yrs, count_only, cross_row, cross_col, cross_grid, bad):
    """Crossings of every edge with the reference line of every row.

    For a crossing, ``cross_col`` is the first column line right of it (exactly):
    the crossing counts in the state at X_m for every m >= cross_col. Rows where an
    edge passes exactly through a reference point are flagged in ``bad``.
    """
    inv = 1.0 / size
    ncols = colx.shape[0] - 1
    ox = colx[0]
    n = 0
    for e in range(edges.shape[0]):
        ax = edges[e, 0]
        ay = edges[e, 1]
        bx = edges[e, 2]
        by = edges[e, 3]
        if ay == by:
            continue
        r0, r1 = _edge_rows(ay, by, oy, inv, delta, nrows)
        for r in range(r0, r1 + 1):
            yr = yrs[r]
            if (ay > yr) == (by > yr):
                continue
            if not count_only:
                xc = ax + (yr - ay) * (bx - ax) / (by - ay)
                j = int(np.floor((xc - ox) * inv)) + 1
                j = min(max(j, 0), ncols)
                # exact: the smallest j with crossing < X_j
                while j > 0:
                    s = _crossing_left_of(ax, ay, bx, by, colx[j - 1], yr)
                    if s == 0:
                        bad[r] = True
                        break
                    if s < 0:
                        break
                    j -= 1
                while j <= ncols:
                    s = _crossing_left_of(ax, ay, bx, by, colx[j], yr)
                    if s == 0:
                        bad[r] = True
                        break
                    if s > 0:
                        break
                    j += 1
                cross_row[n] = r
                cross_col[n] = j
                cross_grid[n] = grid_of[e]
            n += 1
    return n


@njit(cache=True, nogil=True)
def sweep_rows(ncols, nrows, ngrids, rank, row_start, cross_col, cross_grid, edge_count, cellval, ref_start_out, ref_buf):
    """States at the reference points, row by row.

    A cell with no edge and at most one covering grid gets that grid (or -1) in
    ``cellval``; every other cell is mixed: cellval = -2 (numbered later) and the
    grids covering its reference point go to ``ref_buf`` (CSR by mixed order,
    ``ref_start_out`` per cell, -1 for direct cells). Returns (number of mixed
    cells, number of ref entries); with ``ref_buf`` too small returns -1 entries.
    """
    parity = np.zeros(ngrids, dtype=np.uint8)
    pos = np.full(ngrids, -1, dtype=np.int64)
    active = np.empty(ngrids, dtype=np.int64)
    nact = 0
    nmixed = 0
    nref = 0
    overflow = False
    for r in range(nrows):
        a = row_start[r]
        b = row_start[r + 1]
        # crossings of this row sorted by column line (order within one line is irrelevant)
        cols = cross_col[a:b]
        order = np.argsort(cols)
        t = 0
        nt = b - a
        for c in range(ncols):
            # apply crossings with column line <= c + 1 (state at X_{c+1})
            while t < nt and cols[order[t]] <= c + 1:
                g = cross_grid[a + order[t]]
                parity[g] ^= 1
                if parity[g]:
                    pos[g] = nact
                    active[nact] = g
                    nact += 1
                else:
                    p = pos[g]
                    last = active[nact - 1]
                    active[p] = last
                    pos[last] = p
                    pos[g] = -1
                    nact -= 1
                t += 1
            cell = r * ncols + c
            if edge_count[cell] == 0 and nact <= 1:
                cellval[cell] = active[0] if nact == 1 else -1
                ref_start_out[cell] = -1
            else:
                cellval[cell] = -2
                ref_start_out[cell] = nref
                nmixed += 1
                if nref + nact > ref_buf.shape[0]:
                    overflow = True
                else:
                    for i in range(nact):
                        ref_buf[nref + i] = active[i]
                nref += nact
        # closed rings: every parity is back to 0 at the end of the row
        while t < nt:
            g = cross_grid[a + order[t]]
            parity[g] ^= 1
            t += 1
        for i in range(nact):
            parity[active[i]] = 0
            pos[active[i]] = -1
        nact = 0
    if overflow:
        return nmixed, -1
    return nmixed, nref


@njit(cache=True, nogil=True)
def assemble_mixed(ncols, edges, grid_of, rank, colx, yrs, cellval, ref_start, nref_total, ref_buf,
                   pair_start, pair_edge, nmixed):
    """Number the mixed cells and lay out their edges and local grid lists.

    ``pair_start``/``pair_edge``: CSR of edges per cell. Returns mstart (n+1, 2)
    [edge start, local grid start], ec (edge coordinates, cell order), el (local
    grid << 2 | crosses-X1 | above-yr << 1), gid, gref, maxk and a degeneracy flag.
    """
    ncells = cellval.shape[0]
    nent = 0
    for cell in range(ncells):
        if cellval[cell] == -2:
            nent += pair_start[cell + 1] - pair_start[cell]
    mstart = np.zeros((nmixed + 1, 2), dtype=np.int64)
    ec = np.empty((nent, 4), dtype=np.float64)
    el = np.empty(nent, dtype=np.int32)
    cap = nent + nref_total + 16
    gid = np.empty(cap, dtype=np.int32)
    gref = np.empty(cap, dtype=np.uint8)
    maxk = 1
    mid = 0
    t = 0
    kk = 0
    degenerate = False
    # ref_start is in cell order and cumulative: the next mixed cell's start ends this one
    mixed_cells = np.empty(nmixed, dtype=np.int64)
    for cell in range(ncells):
        if cellval[cell] == -2:
            mixed_cells[mid] = cell
            mid += 1
    loc_g = np.empty(64, dtype=np.int64)
    loc_r = np.empty(64, dtype=np.uint8)
    for mid in range(nmixed):
        cell = mixed_cells[mid]
        r0 = ref_start[cell]
        r1 = ref_start[mixed_cells[mid + 1]] if mid + 1 < nmixed else nref_total
        p0 = pair_start[cell]
        p1 = pair_start[cell + 1]
        need = (r1 - r0) + (p1 - p0)
        if need > loc_g.shape[0]:
            loc_g = np.empty(need * 2, dtype=np.int64)
            loc_r = np.empty(need * 2, dtype=np.uint8)
        k = 0
        for i in range(r0, r1):
            loc_g[k] = ref_buf[i]
            loc_r[k] = 1
            k += 1
        for i in range(p0, p1):
            g = grid_of[pair_edge[i]]
            found = False
            for j in range(k):
                if loc_g[j] == g:
                    found = True
                    break
            if not found:
                loc_g[k] = g
                loc_r[k] = 0
                k += 1
        # insertion sort by rank
        for i in range(1, k):
            g = loc_g[i]
            rr = loc_r[i]
            j = i - 1
            while j >= 0 and rank[loc_g[j]] > rank[g]:
                loc_g[j + 1] = loc_g[j]
                loc_r[j + 1] = loc_r[j]
                j -= 1
            loc_g[j + 1] = g
            loc_r[j + 1] = rr
        if k > maxk:
            maxk = k
        mstart[mid, 0] = t
        mstart[mid, 1] = kk
        for j in range(k):
            gid[kk + j] = loc_g[j]
            gref[kk + j] = loc_r[j]
        row = cell // ncols
        col = cell - row * ncols
        x1 = colx[col + 1]
        yr = yrs[row]
        for i in range(p0, p1):
            e = pair_edge[i]
            g = grid_of[e]
            loc = 0
            for j in range(k):
                if loc_g[j] == g:
                    loc = j
                    break
            ax = edges[e, 0]
            ay = edges[e, 1]
            bx = edges[e, 2]
            by = edges[e, 3]
            ec[t, 0] = ax
            ec[t, 1] = ay
            ec[t, 2] = bx
            ec[t, 3] = by
            code = loc << 2
            if (ax > x1) != (bx > x1):
                code |= 1
                s = orient(ax, ay, bx, by, x1, yr)
                if s == 0:
                    degenerate = True
                above_r = (s < 0) if bx > ax else (s > 0)
                if above_r:
                    code |= 2
            el[t] = code
            t += 1
        kk += k
        cellval[cell] = -2 - mid
    mstart[nmixed, 0] = t
    mstart[nmixed, 1] = kk
    return mstart, ec, el, gid[:kk].copy(), gref[:kk].copy(), maxk, degenerate


@njit(cache=True, nogil=True)
def row_reference_lines(ys_sorted, oy, size, nrows, choice):
    """A reference y per row inside its strip, at no vertex's y: in the largest gap.

    ``choice[r]`` picks the fraction of the gap (0.5 first; other values after a
    degenerate row). Returns the lines and whether each is clear of every vertex.
    """
    fracs = np.array([0.5, 0.381966, 0.618034, 0.276393, 0.723607, 0.190983, 0.809017])
    yrs = np.empty(nrows, dtype=np.float64)
    ok = np.ones(nrows, dtype=np.bool_)
    n = ys_sorted.shape[0]
    i = 0
    for r in range(nrows):
        lo = oy + r * size
        hi = oy + (r + 1) * size
        while i < n and ys_sorted[i] <= lo:
            i += 1
        best_lo = lo
        best_hi = hi
        best = -1.0
        prev = lo
        j = i
        while j < n and ys_sorted[j] < hi:
            if ys_sorted[j] - prev > best:
                best = ys_sorted[j] - prev
                best_lo = prev
                best_hi = ys_sorted[j]
            prev = ys_sorted[j]
            j += 1
        if hi - prev > best:
            best_lo = prev
            best_hi = hi
        f = fracs[choice[r] % fracs.shape[0]]
        y = best_lo + (best_hi - best_lo) * f
        yrs[r] = y
        # clear of vertices: strictly inside the gap
        if not (y > best_lo and y < best_hi):
            ok[r] = False
        # also clear of the strip's own bounds (a vertex may sit exactly on them)
        k = np.searchsorted(ys_sorted, y)
        if k < n and ys_sorted[k] == y:
            ok[r] = False
    return yrs, ok


@njit(cache=True, nogil=True)
def near_edges(px, py, kx, ky, radius, c0, c1, r0, r1, ncols, cellval, mstart, ec, el, gid):
    """Grids with an edge within ``radius`` metres of (px, py), each with its distance.

    Scans the edges of the mixed cells in rows r0..r1, columns c0..c1; ``kx``/``ky``
    are metres per degree of longitude/latitude at the point (a local tangent plane,
    accurate to far below a millimetre over tens of metres). A grid whose boundary is
    within the radius has that stretch of boundary in one of these cells.
    """
    cap = 16
    gs = np.empty(cap, dtype=np.int64)
    ds = np.empty(cap, dtype=np.float64)
    n = 0
    for row in range(r0, r1 + 1):
        for col in range(c0, c1 + 1):
            v = cellval[row * ncols + col]
            if v > -2:
                continue
            mid = -2 - v
            k0 = mstart[mid, 1]
            for t in range(mstart[mid, 0], mstart[mid + 1, 0]):
                ax = (ec[t, 0] - px) * kx
                ay = (ec[t, 1] - py) * ky
                dx = (ec[t, 2] - px) * kx - ax
                dy = (ec[t, 3] - py) * ky - ay
                ll = dx * dx + dy * dy
                f = 0.0
                if ll > 0.0:
                    f = -(ax * dx + ay * dy) / ll
                    if f < 0.0:
                        f = 0.0
                    elif f > 1.0:
                        f = 1.0
                cx = ax + f * dx
                cy = ay + f * dy
                d = math.sqrt(cx * cx + cy * cy)
                if d > radius:
                    continue
                g = gid[k0 + (el[t] >> 2)]
                found = False
                for i in range(n):
                    if gs[i] == g:
                        if d < ds[i]:
                            ds[i] = d
                        found = True
                        break
                if not found:
                    if n == cap:
                        cap *= 2
                        gs2 = np.empty(cap, dtype=np.int64)
                        ds2 = np.empty(cap, dtype=np.float64)
                        gs2[:n] = gs[:n]
                        ds2[:n] = ds[:n]
                        gs = gs2
                        ds = ds2
                    gs[n] = g
                    ds[n] = d
                    n += 1
    return gs[:n].copy(), ds[:n].copy()
