"""Cost-optimal multi-region replication trees ("overlay multicast" of one object to many regions).

Main planner, after Cloudcast (Wooders, Liu, Jain, Mukherjee, Chowdhury, Gonzalez, Stoica, Shenker:
"Cloudcast: High-Throughput, Cost-Aware Overlay Multicast in the Cloud", NSDI'24). The object of ``S`` GB
is cut into ``K`` equal stripes; each stripe travels from the source to every destination along its own
tree over an overlay of regions (relays allowed). One mixed-integer program over data *volume* chooses the
trees and the integer VM count of every region so that everything arrives within a time budget ``T``:

- variables: ``x[k, e]`` (binary, stripe ``k`` uses edge ``e``), ``f[k, d, e]`` in [0, 1] (one unit of
  stripe ``k`` routed to destination ``d``; it may only use edges with ``x = 1``), ``N[v]`` (integer VMs);
- flow conservation per stripe and destination makes every stripe reach every destination, with relays
  forwarding what they receive; minimising cost then leaves a tree per stripe;
- time budget: the volume on edge ``(i, j)`` fits in ``T x throughput(i, j) x min(N[i], N[j])`` (the
  measured throughput is per VM pair), node egress/ingress fit in ``T x per-VM limit x N``;
- objective: egress ($/GB x GB on every edge) + VM cost (VMs x $/VM-hour x ``T``).

It is solved with HiGHS (through highspy). Cloudcast's three approximations can each be switched off to
compare with the exact program: node clustering (about 20 representative relay regions, always including the
regions on the cheapest routes), at most two overlay hops per destination, and stripe-iterative solving with
residual capacity. A refinement step follows them (``refine``): the best budget-feasible plan among the
approximate one and the direct / Steiner / arborescence baselines, re-solved jointly for all stripes on a small
overlay without the hop limit (short time limit, warm-started), so the approximate plan is never worse than
those baselines.

The exact program (no approximation) has the same optimum but is solved on far fewer edges: valid cuts (a
stripe is an arborescence; a region an edge enters runs a VM), the approximate plan as incumbent, then column
generation on the LP relaxation and reduced-cost fixing drop every edge that provably cannot be in a cheaper
plan (:func:`_solve_priced`); the solver's lower bound is reported as ``lower_bound_usd``.

Baselines: direct sends, minimum directed spanning tree over the terminals (Edmonds), Steiner trees (the
networkx 2-approximation on the undirected cheapest-direction graph, and an exact ILP), SPIDER-style
throughput-first trees (widest paths), and CloudMPcast (Tang et al., IEEE Transactions on Cloud Computing):
a Steiner ILP that only lets a destination's data use edges with throughput >= alpha x its direct
throughput, and biases prices by beta for regions that already send (tiered volume discounts).

Reported costs always use list prices; VMs are charged for the whole time budget (VMs x $/VM-hour x
budget hours, as in the objective), or for the predicted time if a fixed-tree baseline overruns the budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import networkx as nx
import numpy as np
from scipy import sparse

from egress_optimizer.errors import InputError
from egress_optimizer.planners.profiles import Profile, load_profile

ALGOS = ("cloudcast", "cloudmpcast", "steiner", "steiner-ilp", "mdst", "spider", "direct")
Edge = tuple[str, str]


@dataclass
class StripeTree:
    """One stripe's distribution tree: ``edges`` are (from, to) region pairs, each carrying ``gb``."""

    stripe: int
    gb: float
    edges: list[Edge]


@dataclass
class ReplicationPlan:
    algo: str
    src: str
    dsts: list[str]
    size_gb: float
    stripes: list[StripeTree]
    vms: dict[str, int]
    egress_cost_usd: float
    vm_cost_usd: float
    total_cost_usd: float
    predicted_time_s: float
    solve_time_s: float
    time_budget_s: float
    status: str = "optimal"  # optimal | time_limit (best found) | heuristic
    options: dict = field(default_factory=dict)
    lower_bound_usd: float | None = None  # the solver's proven bound on the optimum (joint cloudcast program only)

    @property
    def budget_met(self) -> bool:
        return bool(self.predicted_time_s <= self.time_budget_s * (1 + 1e-6))

    def edge_gb(self) -> dict[Edge, float]:
        """GB carried by each overlay edge, summed over stripes."""
        out: dict[Edge, float] = {}
        for t in self.stripes:
            for e in t.edges:
                out[e] = out.get(e, 0.0) + t.gb
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stripes"] = [{"stripe": t.stripe, "gb": t.gb, "edges": [list(e) for e in t.edges]} for t in self.stripes]
        d["budget_met"] = self.budget_met
        return d


# --------------------------------------------------------------------------------------------- evaluation


def _node_volumes(edge_gb: dict[Edge, float]) -> tuple[dict[str, float], dict[str, float]]:
    out: dict[str, float] = {}
    inn: dict[str, float] = {}
    for (a, b), gb in edge_gb.items():
        out[a] = out.get(a, 0.0) + gb
        inn[b] = inn.get(b, 0.0) + gb
    return out, inn


def min_vms(profile: Profile, edge_gb: dict[Edge, float], budget_s: float) -> dict[str, int]:
    """Fewest VMs per region that move ``edge_gb`` within ``budget_s`` (may exceed any VM cap)."""
    need: dict[str, float] = {}

    def bump(r: str, gbit: float, gbps: float) -> None:
        need[r] = max(need.get(r, 0.0), gbit / (gbps * budget_s))

    out, inn = _node_volumes(edge_gb)
    for (a, b), gb in edge_gb.items():
        g = profile.gbps[profile.idx(a), profile.idx(b)]
        bump(a, 8 * gb, g)
        bump(b, 8 * gb, g)
    for r, gb in out.items():
        bump(r, 8 * gb, profile.egress_gbps[profile.idx(r)])
    for r, gb in inn.items():
        bump(r, 8 * gb, profile.ingress_gbps[profile.idx(r)])
    return {r: max(1, math.ceil(v - 1e-9)) for r, v in need.items()}


def predicted_time(profile: Profile, edge_gb: dict[Edge, float], vms: dict[str, int]) -> float:
    """Seconds until the slowest edge or VM-limited node finishes, all edges running in parallel (pipelined)."""
    t = 0.0
    out, inn = _node_volumes(edge_gb)
    for (a, b), gb in edge_gb.items():
        t = max(t, 8 * gb / (profile.gbps[profile.idx(a), profile.idx(b)] * min(vms[a], vms[b])))
    for r, gb in out.items():
        t = max(t, 8 * gb / (profile.egress_gbps[profile.idx(r)] * vms[r]))
    for r, gb in inn.items():
        t = max(t, 8 * gb / (profile.ingress_gbps[profile.idx(r)] * vms[r]))
    return t


def evaluate(profile: Profile, edge_gb: dict[Edge, float], vms: dict[str, int]) -> tuple[float, float, float]:
    """(egress USD, VM USD for the predicted time, predicted seconds) of moving ``edge_gb`` with ``vms``."""
    egress = sum(gb * profile.cost[profile.idx(a), profile.idx(b)] for (a, b), gb in edge_gb.items())
    t = predicted_time(profile, edge_gb, vms)
    return egress, sum(vms.values()) * profile.vm_usd_per_hour * t / 3600, t


def _finish(
    profile: Profile,
    algo: str,
    src: str,
    dsts: list[str],
    size_gb: float,
    trees: list[list[Edge]],
    budget_s: float,
    max_vms: int,
    solve_s: float,
    status: str,
    options: dict,
) -> ReplicationPlan:
    gb = size_gb / len(trees)
    stripes = [StripeTree(k, gb, sorted(t)) for k, t in enumerate(trees)]
    edge_gb: dict[Edge, float] = {}
    for t in stripes:
        for e in t.edges:
            edge_gb[e] = edge_gb.get(e, 0.0) + gb
    # Size VMs for the budget; a fixed-tree baseline may need more than the cap and then runs over time.
    vms = {r: min(n, max_vms) for r, n in min_vms(profile, edge_gb, budget_s).items()}
    egress, _, t = evaluate(profile, edge_gb, vms)
    # VMs are held for the whole budget (as in the program's objective), or longer if a baseline overruns it.
    vm_usd = sum(vms.values()) * profile.vm_usd_per_hour * max(t, budget_s) / 3600
    return ReplicationPlan(
        algo, src, list(dsts), size_gb, stripes, vms, round(egress, 6), round(vm_usd, 6),
        round(egress + vm_usd, 6), t, solve_s, budget_s, status, options,
    )  # fmt: skip


def _prune(edges: list[Edge], src: str, dsts: list[str]) -> list[Edge]:
    """A BFS arborescence from ``src`` over ``edges``, keeping only branches that lead to a destination."""
    g = nx.DiGraph(edges)
    if src not in g:
        raise RuntimeError("solver returned a tree without the source")
    parent = {src: None}
    frontier = [src]
    while frontier:
        nxt = []
        for u in frontier:
            for v in sorted(g.successors(u)):
                if v not in parent:
                    parent[v] = u
                    nxt.append(v)
        frontier = nxt
    keep: set[Edge] = set()
    for d in dsts:
        if d not in parent:
            raise RuntimeError(f"solver tree does not reach {d}")
        v = d
        while parent[v] is not None:
            keep.add((parent[v], v))
            v = parent[v]
    return sorted(keep)


# ------------------------------------------------------------------------------------------------ MILP core


@dataclass
class _Instance:
    """A MILP over local node indices 0..n-1 of ``sub`` (a restricted profile)."""

    sub: Profile
    s: int
    dsts: list[int]
    tail: np.ndarray  # allowed overlay edges
    head: np.ndarray
    masks: list[np.ndarray]  # per destination: edges its unit of flow may use
    trees: bool = False  # any destination may ride any edge (no hop limit / alpha): optimal stripes are trees

    @property
    def m(self) -> int:
        return len(self.tail)


def _instance(
    sub: Profile, s: int, dsts: list[int], two_hop: bool, alpha: float | None = None, allow: np.ndarray | None = None
) -> _Instance:
    """The overlay edges of the program; ``allow`` (an n x n boolean matrix) restricts them further."""
    n = len(sub.regions)
    ii, jj = np.nonzero(np.isfinite(sub.cost))
    keep = jj != s  # nothing flows back into the source
    if allow is not None:
        keep &= allow[ii, jj]
    if two_hop:  # Cloudcast's hop limit: every destination is reached by s->d or s->v->d
        dset = np.zeros(n, bool)
        dset[dsts] = True
        keep &= (ii == s) | dset[jj]
    tail, head = ii[keep], jj[keep]
    masks = []
    for d in dsts:
        mk = tail != d  # d's own unit stops at d
        if two_hop:
            mk &= (tail == s) | (head == d)
        if alpha is not None:  # CloudMPcast: only edges at least alpha x as fast as the direct path to d
            mk &= sub.gbps[tail, head] >= alpha * sub.gbps[s, d] - 1e-12
            mk |= (tail == s) & (head == d)
        masks.append(mk)
    return _Instance(sub, s, dsts, tail, head, masks, trees=not two_hop and alpha is None)


def _solve(
    inst: _Instance,
    gbs: list[float],
    budget_s: float | None,
    max_vms: int,
    price: np.ndarray,
    vm_lo: np.ndarray | None = None,
    vol0: np.ndarray | None = None,
    time_limit_s: float | None = None,
    gap: float = 1e-4,
    start: list[list[tuple[int, int]]] | None = None,
    lp_only: bool = False,
) -> tuple:
    """Solve the stripe MILP; returns the chosen edge indices per stripe, VMs per node, a status and the
    solver's proven lower bound on the objective.

    ``budget_s=None`` drops time and VMs (a pure minimum-cost Steiner arborescence per stripe). ``vm_lo`` and
    ``vol0`` (GB already on each edge) carry VMs and used capacity between stripe-iterative rounds.
    ``lp_only`` solves the LP relaxation instead and returns (objective, row duals, row offsets) for pricing.
    """
    sub, m, n, K = inst.sub, inst.m, len(inst.sub.regions), len(gbs)
    tail, head = inst.tail, inst.head
    ed = [np.flatnonzero(mk) for mk in inst.masks]
    nf = K * sum(len(e) for e in ed)
    nx_ = K * m
    nvar = nx_ + nf + (n if budget_s is not None else 0)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    nrow = 0

    def add(r: np.ndarray, c: np.ndarray, v: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        nonlocal nrow
        rows.append(r + nrow)
        cols.append(c)
        vals.append(v)
        lo.append(lower)
        hi.append(upper)
        nrow += len(lower)

    off = nx_
    at: dict = {"cons": {}, "sym": {}}  # first row of each block, for pricing edges left out of the program
    for k in range(K):
        for di, d in enumerate(inst.dsts):
            e = ed[di]
            t = len(e)
            fv = off + np.arange(t)
            # conservation: inflow - outflow = +1 at d, -1 at s, 0 elsewhere
            at["cons"][k, di] = nrow
            b = np.zeros(n)
            b[inst.s], b[d] = -1.0, 1.0
            add(
                np.concatenate([head[e], tail[e]]),
                np.concatenate([fv, fv]),
                np.concatenate([np.ones(t), -np.ones(t)]),
                b,
                b,
            )
            # f <= x: a destination's unit only rides edges the stripe's tree uses
            r = np.arange(t)
            add(
                np.concatenate([r, r]),
                np.concatenate([fv, k * m + e]),
                np.concatenate([np.ones(t), -np.ones(t)]),
                np.full(t, -np.inf),
                np.zeros(t),
            )
            off += t
    c = np.zeros(nvar)
    for k, g in enumerate(gbs):
        c[k * m : (k + 1) * m] = g * price
    # Stripes of equal size are interchangeable: order them by cost to cut symmetric branches.
    for k in range(K - 1):
        if abs(gbs[k] - gbs[k + 1]) < 1e-12:
            at["sym"][k] = nrow
            add(
                np.zeros(2 * m, int),
                np.concatenate([k * m + np.arange(m), (k + 1) * m + np.arange(m)]),
                np.concatenate([price, -price]),
                np.array([-np.inf]),
                np.array([1e-9]),
            )
    if inst.trees:
        # Valid cuts that leave the optimum unchanged: an optimal stripe can always be pruned to an arborescence
        # (in-degree <= 1), and a region an edge enters runs a VM. They tighten the LP bound on VM cost a lot.
        xk_in = (np.arange(K)[:, None] * m + np.arange(m)[None, :]).ravel()
        row_in = (np.arange(K)[:, None] * n + head[None, :]).ravel()
        at["indeg"] = nrow
        add(row_in, xk_in, np.ones(K * m), np.full(K * n, -np.inf), np.ones(K * n))
        if budget_s is not None:
            nvs = nx_ + nf + np.arange(n)
            at["vm_in"] = nrow
            add(
                np.concatenate([row_in, np.arange(K * n)]),
                np.concatenate([xk_in, np.tile(nvs, K)]),
                np.concatenate([np.ones(K * m), -np.ones(K * n)]),
                np.full(K * n, -np.inf),
                np.zeros(K * n),
            )
    integrality = np.zeros(nvar)
    integrality[:nx_] = 1
    vlb = np.zeros(nvar)
    vub = np.ones(nvar)
    if budget_s is not None:
        nv = nx_ + nf + np.arange(n)
        integrality[nv] = 1
        vlb[nv] = 0 if vm_lo is None else vm_lo
        vlb[nv[[inst.s, *inst.dsts]]] = np.maximum(vlb[nv[[inst.s, *inst.dsts]]], 1)  # terminals always run a VM
        vub[nv] = max_vms
        c[nv] = sub.vm_usd_per_hour * budget_s / 3600
        vol0 = np.zeros(m) if vol0 is None else vol0
        gbps = sub.gbps[tail, head]
        xk = (np.arange(K)[:, None] * m + np.arange(m)[None, :]).ravel()  # x[k, e] in k-major order
        ek = np.tile(np.arange(m), K)
        coef = 8 * np.repeat(np.asarray(gbs, float), m)  # Gbit of stripe k on edge e
        for end in (tail, head):  # edge capacity scales with the VMs at both ends
            add(
                np.concatenate([ek, np.arange(m)]),
                np.concatenate([xk, nv[end]]),
                np.concatenate([coef, -gbps * budget_s]),
                np.full(m, -np.inf),
                -8 * vol0,
            )
        for name, end, lim in (("egress", tail, sub.egress_gbps), ("ingress", head, sub.ingress_gbps)):
            used = np.bincount(end, weights=8 * vol0, minlength=n)  # per-VM egress / ingress
            at[name] = nrow
            add(
                np.concatenate([end[ek], np.arange(n)]),
                np.concatenate([xk, nv]),
                np.concatenate([coef, -lim * budget_s]),
                np.full(n, -np.inf),
                -used,
            )
    A = sparse.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, nvar))
    if lp_only:
        obj, duals = _highs_lp(c, A, np.concatenate(lo), np.concatenate(hi), vlb, vub)
        return obj, duals, at
    x0 = None
    if start is not None:  # an incumbent (e.g. the approximate plan) lets HiGHS prune from the first node
        x0 = _start_vector(inst, start, ed, nx_, nvar, budget_s, max_vms, gbs)
    values, bound, status = _highs(c, A, np.concatenate(lo), np.concatenate(hi), vlb, vub, integrality,
                                   time_limit_s, gap, x0)  # fmt: skip
    if values is None:
        if status == "time_limit":
            raise InputError(f"no feasible plan found within the solver time limit of {time_limit_s:g} s")
        raise InputError("infeasible")  # caller rewrites this into a message about the budget
    x = values[:nx_].reshape(K, m) > 0.5
    vms = np.rint(values[nx_ + nf :]).astype(int) if budget_s is not None else None
    return [np.flatnonzero(x[k]) for k in range(K)], vms, status, bound


def _solve_priced(
    inst: _Instance,
    gbs: list[float],
    budget_s: float,
    max_vms: int,
    price: np.ndarray,
    core: np.ndarray,
    start: list[list[tuple[int, int]]],
    time_limit_s: float | None,
) -> tuple:
    """The joint program over all of ``inst``'s edges, solved to the same optimum on far fewer of them.

    Column generation on the LP relaxation, then reduced-cost fixing (both exact): start from the ``core`` edges
    (and the incumbent ``start``), solve the LP, price every left-out edge with the duals and add those that
    could lower the LP, until none can; that LP value ``lb`` bounds the full program. An edge left out of the
    last LP with reduced cost ``r`` (the cheapest its block of variables, one ``x[k, e]`` and its flows, can
    contribute) is in no plan cheaper than ``lb + r``, so every edge with ``r`` above the incumbent's cost minus
    ``lb`` is dropped for good (the per-edge capacity rows of left-out edges are relaxed, which only weakens
    ``r``). The MILP on the remaining edges has the optimum of the full one.
    """
    t0 = time.perf_counter()
    sub, n, m, K = inst.sub, len(inst.sub.regions), inst.m, len(gbs)
    tail, head = inst.tail, inst.head
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(tail, head, strict=True))}
    keep = core.copy()
    for t in start:
        keep[[pos[e] for e in t]] = True
    masks = np.array(inst.masks)  # (destinations, m)
    ub = None
    best_size = 10 * m
    for _ in range(50):
        r_inst = _Instance(sub, inst.s, inst.dsts, tail[keep], head[keep], [mk[keep] for mk in inst.masks], inst.trees)
        if ub is None:  # the incumbent's objective, from its MILP vector
            ed = [np.flatnonzero(mk) for mk in r_inst.masks]
            nf = K * sum(len(e) for e in ed)
            x0 = _start_vector(r_inst, start, ed, K * r_inst.m, K * r_inst.m + nf + n, budget_s, max_vms, gbs)
            cx = np.concatenate([g * price[keep] for g in gbs])
            ub = float(cx @ x0[: K * r_inst.m] + sub.vm_usd_per_hour * budget_s / 3600 * x0[-n:].sum())
        lb, y, at = _solve(r_inst, gbs, budget_s, max_vms, price[keep], lp_only=True)
        out = np.flatnonzero(~keep)
        if not len(out):
            break
        rc = np.empty((K, len(out)))
        for k, g in enumerate(gbs):
            r = g * price[out]
            if k in at["sym"]:
                r -= y[at["sym"][k]] * price[out]
            if k - 1 in at["sym"]:
                r += y[at["sym"][k - 1]] * price[out]
            r -= y[at["indeg"] + k * n + head[out]] + y[at["vm_in"] + k * n + head[out]]
            r -= 8 * g * (y[at["egress"] + tail[out]] + y[at["ingress"] + head[out]])
            for di in range(len(inst.dsts)):
                cons = y[at["cons"][k, di] : at["cons"][k, di] + n]
                rf = -(cons[head[out]] - cons[tail[out]])  # reduced cost of the flow f[k, d, e]
                r += np.where(masks[di, out], np.minimum(rf, 0.0), 0.0)
            rc[k] = r
        worst = rc.min(axis=0)
        lb_all = lb + float(np.minimum(rc, 0.0).sum())  # Lagrangian bound of the full program
        tol = 1e-6 * max(1.0, abs(ub))
        # reduced-cost fixing: a plan using a left-out edge e costs at least lb_all + max(worst[e], 0)
        needed = out[lb_all + np.maximum(worst, 0.0) <= ub + tol]
        size = keep.sum() + len(needed)
        enter = worst < -tol
        if not enter.any() or size > 0.9 * best_size:
            keep[needed] = True
            break
        best_size = min(best_size, size) if size < m else 10 * m
        order = np.argsort(worst[enter])[: max(50, m // 20)]
        keep[out[np.flatnonzero(enter)[order]]] = True
    else:
        keep[:] = True  # did not converge: solve the full program
    r_inst = _Instance(sub, inst.s, inst.dsts, tail[keep], head[keep], [mk[keep] for mk in inst.masks], inst.trees)
    left = None if time_limit_s is None else max(0.01, time_limit_s - (time.perf_counter() - t0))
    chosen, vms, status, bound = _solve(r_inst, gbs, budget_s, max_vms, price[keep], time_limit_s=left, start=start)
    idx = np.flatnonzero(keep)
    return [idx[c] for c in chosen], vms, status, bound


def _highs_model(
    c: np.ndarray,
    A: sparse.csc_array,
    rlo: np.ndarray,
    rhi: np.ndarray,
    vlb: np.ndarray,
    vub: np.ndarray,
    integrality: np.ndarray | None,
):
    """A one-thread, silent HiGHS instance holding the model (an LP when ``integrality`` is None)."""
    import highspy

    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = c
    lp.col_lower_, lp.col_upper_ = vlb, vub
    lp.row_lower_ = np.where(np.isinf(rlo), -inf, rlo)
    lp.row_upper_ = np.where(np.isinf(rhi), inf, rhi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = A.shape[1], A.shape[0]
    if integrality is not None:
        lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                           for v in integrality]  # fmt: skip
    h.passModel(lp)
    return h


def _highs_lp(
    c: np.ndarray, A: sparse.csc_array, rlo: np.ndarray, rhi: np.ndarray, vlb: np.ndarray, vub: np.ndarray
) -> tuple[float, np.ndarray]:
    """Row duals ``y`` of the LP relaxation (interior point, no crossover: central duals price columns far better
    than a degenerate simplex vertex) and the Lagrangian bound they prove, ``min over the variable bounds of
    c x + y (row side - A x)``; a valid lower bound for any ``y`` once its signs match the row sides."""
    import highspy

    h = _highs_model(c, A, rlo, rhi, vlb, vub, None)
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "off")
    h.run()
    if h.getModelStatus() not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnknown):
        raise InputError("infeasible")
    y = np.asarray(h.getSolution().row_dual)
    y = np.where(np.isinf(rlo), np.minimum(y, 0.0), y)  # <= rows: y <= 0
    y = np.where(np.isinf(rhi), np.maximum(y, 0.0), y)  # >= rows: y >= 0
    side = np.where(y > 0, rlo, rhi)
    rc = c - A.T @ y
    bound = float(np.sum(y * np.where(y != 0, side, 0.0)) + np.sum(np.minimum(rc * vlb, rc * vub)))
    return bound, y


def _highs(
    c: np.ndarray,
    A: sparse.csc_array,
    rlo: np.ndarray,
    rhi: np.ndarray,
    vlb: np.ndarray,
    vub: np.ndarray,
    integrality: np.ndarray,
    time_limit_s: float | None,
    gap: float,
    x0: np.ndarray | None,
) -> tuple[np.ndarray | None, float, str]:
    """Solve with HiGHS through highspy (scipy's ``milp`` wraps the same solver but takes no start point)."""
    import highspy

    h = _highs_model(c, A, rlo, rhi, vlb, vub, integrality)
    h.setOptionValue("mip_rel_gap", gap)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
    if x0 is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(x0)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    ok = h.getInfo().primal_solution_status == 2  # a feasible point exists
    bound = float(h.getInfo().mip_dual_bound)
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    elif ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return None, bound, "infeasible"
    else:
        status = "time_limit"
    if not ok:
        return None, bound, status
    return np.asarray(h.getSolution().col_value), bound, status


def _start_vector(
    inst: _Instance,
    start: list[list[tuple[int, int]]],
    ed: list[np.ndarray],
    nx_: int,
    nvar: int,
    budget_s: float | None,
    max_vms: int,
    gbs: list[float],
) -> np.ndarray:
    """The MILP vector of a known plan (trees as local (tail, head) pairs), equal-size stripes ordered by tree cost."""
    m, n = inst.m, len(inst.sub.regions)
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(inst.tail, inst.head, strict=True))}
    price = inst.sub.cost
    run = np.cumsum([0] + [abs(gbs[k] - gbs[k - 1]) >= 1e-12 for k in range(1, len(gbs))])
    order = sorted(range(len(start)), key=lambda k: (run[k], sum(price[a, b] for a, b in start[k])))
    start = [start[k] for k in order]
    x0 = np.zeros(nvar)
    off = nx_
    for k, tree in enumerate(start):
        parent = {b: a for a, b in tree}
        for e in tree:
            x0[k * m + pos[e]] = 1
        for di, d in enumerate(inst.dsts):
            where = {int(e): t for t, e in enumerate(ed[di])}
            v = d
            while v != inst.s:
                x0[off + where[pos[(parent[v], v)]]] = 1
                v = parent[v]
            off += len(ed[di])
    if budget_s is not None:
        vol = np.zeros((n, n))
        for k, tree in enumerate(start):
            for a, b in tree:
                vol[a, b] += gbs[k]
        sub = inst.sub
        need = np.zeros(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_edge = np.where(vol > 0, 8 * vol / (sub.gbps * budget_s), 0)
        need = np.maximum(need, per_edge.max(axis=1))
        need = np.maximum(need, per_edge.max(axis=0))
        need = np.maximum(need, 8 * vol.sum(axis=1) / (sub.egress_gbps * budget_s))
        need = np.maximum(need, 8 * vol.sum(axis=0) / (sub.ingress_gbps * budget_s))
        x0[nx_ + (nvar - nx_ - n) :] = np.minimum(np.ceil(need - 1e-9), max_vms)
    return x0


# ------------------------------------------------------------------------------------- candidate selection


def cluster_relays(profile: Profile, src: str, dsts: list[str], n_relays: int = 20) -> list[str]:
    """Cloudcast's node clustering: about ``n_relays`` representative relay regions (plus source, destinations).

    Relays whose prices to and from the terminals are identical are interchangeable for cost, so they form
    one cluster represented by its best-throughput member; clusters are ranked by the cheapest
    source->relay->destination price, then by throughput. Leftover slots go to the next-fastest members.
    Regions on the cheapest ($/GB) source->destination paths and on the Steiner 2-approximation tree are
    always kept (first), so the clustered overlay contains the plain cheapest routes.
    """
    s = profile.idx(src)
    di = [profile.idx(d) for d in dsts]
    terms = {src, *dsts}
    groups: dict[tuple, list[tuple[float, int]]] = {}
    for r in range(len(profile.regions)):
        if profile.regions[r] in terms or not np.isfinite(profile.cost[s, r]):
            continue
        sig = (round(profile.cost[s, r], 4), *tuple(round(profile.cost[r, d], 4) for d in di))
        sig += tuple(round(profile.cost[d, r], 4) for d in di)
        speed = min(profile.gbps[s, r], float(np.median(profile.gbps[r, di])))
        groups.setdefault(sig, []).append((speed, r))
    ranked = sorted(groups.items(), key=lambda kv: (kv[0][0] + min(kv[0][1 : 1 + len(di)]), -max(kv[1])[0]))
    members = [sorted(g, reverse=True) for _, g in ranked]
    keep = [r for r in _cheap_route_regions(profile, src, dsts) if r not in terms][:n_relays]
    chosen = [profile.idx(r) for r in keep]
    depth = 0
    while len(chosen) < n_relays and any(depth < len(g) for g in members):
        for g in members:
            if depth < len(g) and len(chosen) < n_relays and g[depth][1] not in chosen:
                chosen.append(g[depth][1])
        depth += 1
    return [profile.regions[r] for r in chosen]


def _cheap_route_regions(profile: Profile, src: str, dsts: list[str]) -> list[str]:
    """Regions on the cheapest source->destination paths (Dijkstra on $/GB) and on the Steiner 2-approx tree."""
    from scipy.sparse.csgraph import dijkstra

    w = np.where(np.isfinite(profile.cost), profile.cost + 1e-9, 0.0)  # tiny epsilon: free edges stay edges
    s = profile.idx(src)
    _, pred = dijkstra(sparse.csr_array(w), indices=s, return_predecessors=True)
    out: list[str] = []
    for d in dsts:
        v = profile.idx(d)
        while v >= 0 and v != s:
            out.append(profile.regions[v])
            v = pred[v]
    out += [r for e in _steiner_approx(profile, src, dsts) for r in e]
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------------------------------------ planners


def lower_bound_time(profile: Profile, src: str, dsts: list[str], size_gb: float, max_vms: int) -> float:
    """No plan can beat this: the source must send and each destination must receive the whole object."""
    s = profile.idx(src)
    t = 8 * size_gb / (profile.egress_gbps[s] * max_vms)
    for d in dsts:
        j = profile.idx(d)
        best_in = profile.gbps[:, j].max()
        t = max(t, 8 * size_gb / (min(profile.ingress_gbps[j], best_in) * max_vms))
    return t


def direct_time(profile: Profile, src: str, dsts: list[str], size_gb: float, max_vms: int) -> float:
    """Predicted time of sending straight to every destination with ``max_vms`` everywhere (always feasible)."""
    edge_gb = {(src, d): size_gb for d in dsts}
    return predicted_time(profile, edge_gb, {r: max_vms for r in (src, *dsts)})


REFINE_S = 2.0  # solver time for the refinement step of the approximate planner
REFINE_VARS = 40_000  # flow variables the joint refinement may use; more stripes are solved in groups


def _plan_usd(profile: Profile, trees: list[list[Edge]], size_gb: float, budget_s: float, max_vms: int) -> float:
    """Total USD of one tree per stripe with VMs sized for the budget; inf if that needs more than ``max_vms``."""
    gb = size_gb / len(trees)
    edge_gb: dict[Edge, float] = {}
    for t in trees:
        for e in t:
            edge_gb[e] = edge_gb.get(e, 0.0) + gb
    vms = min_vms(profile, edge_gb, budget_s)
    if max(vms.values()) > max_vms:
        return math.inf
    egress = sum(v * profile.cost[profile.idx(a), profile.idx(b)] for (a, b), v in edge_gb.items())
    return egress + sum(vms.values()) * profile.vm_usd_per_hour * budget_s / 3600


def _refine(
    profile: Profile,
    src: str,
    dsts: list[str],
    size_gb: float,
    budget_s: float,
    max_vms: int,
    nodes: list[str],
    trees: list[list[Edge]],
    time_limit_s: float | None,
) -> list[list[Edge]]:
    """Repair step after the approximations: never worse than the approximate plan or the fixed-tree baselines.

    The stripe-iterative, two-hop plan can buy VMs and capacity for early stripes that a joint program would use
    better, and the hop limit rules out chains of destinations. So: take the cheapest budget-feasible plan among
    the approximate trees, direct sends, the Steiner 2-approximation and Edmonds' arborescence on the terminals,
    then re-solve all stripes jointly (warm-started from it, short time limit) on a small overlay: the clustered
    regions with every edge out of the source, every edge into a destination and every candidate edge, with no
    hop limit. With many stripes and destinations the stripes are solved in a few equal groups (a group shares
    one tree) to keep the program small.
    """
    stripes = len(trees)
    cands = [trees]
    for fixed in ([(src, d) for d in dsts], _steiner_approx(profile, src, dsts), _mdst(profile, src, dsts)):
        cands.append([fixed] * stripes)
    usd = [_plan_usd(profile, c, size_gb, budget_s, max_vms) for c in cands]
    best_i = int(np.argmin(usd))
    best, best_usd = cands[best_i], usd[best_i]
    nodes = list(dict.fromkeys(nodes + [r for c in cands[1:] for e in c[0] for r in e]))
    where = {r: i for i, r in enumerate(nodes)}
    n, nt = len(nodes), 1 + len(dsts)
    allow = np.zeros((n, n), bool)
    allow[0, :] = True  # out of the source
    allow[:, 1:nt] = True  # into a destination
    for c in cands:
        for t in c:
            for a, b in t:
                allow[where[a], where[b]] = True
    sub = profile.subset(nodes)
    inst = _instance(sub, 0, list(range(1, nt)), two_hop=False, allow=allow)
    groups = max(1, min(stripes, REFINE_VARS // max(1, len(dsts) * inst.m)))
    sizes = [stripes // groups + (g < stripes % groups) for g in range(groups)]
    first = np.cumsum([0, *sizes[:-1]])
    gb = size_gb / stripes
    start = None
    if all(best[f + j] == best[f] for f, z in zip(first, sizes, strict=True) for j in range(z)):
        start = [[(where[a], where[b]) for a, b in best[f]] for f in first]
    limit = REFINE_S if time_limit_s is None else min(REFINE_S, time_limit_s)
    price = sub.cost[inst.tail, inst.head]
    try:
        chosen, _, _, _ = _solve(inst, [gb * z for z in sizes], budget_s, max_vms, price, time_limit_s=limit,
                                 start=start)  # fmt: skip
    except InputError:
        return best
    got: list[list[Edge]] = []
    for e, z in zip(chosen, sizes, strict=True):
        edges = [(nodes[a], nodes[b]) for a, b in zip(inst.tail[e], inst.head[e], strict=True)]
        got += [_prune(edges, src, dsts)] * z
    return got if _plan_usd(profile, got, size_gb, budget_s, max_vms) < best_usd - 1e-9 else best


@dataclass(frozen=True)
class _CloudcastJob:
    """What one Cloudcast solve moves (``size_gb`` from ``src`` to ``dsts`` within ``budget_s``) and the overlay and
    solver settings it shares with the approximate solves that warm-start it (see :func:`plan_replication`)."""

    profile: Profile
    src: str
    dsts: list[str]
    size_gb: float
    budget_s: float
    stripes: int
    max_vms: int
    clustering: bool
    two_hop: bool
    n_relays: int
    stripe_group: int
    time_limit_s: float | None


def _cloudcast(
    job: _CloudcastJob, iterative: bool, warm_start: bool = True, refine: bool = True
) -> tuple[list[list[Edge]], str, float | None]:
    """Trees per stripe, solver status and (for the joint program) the solver's lower bound on the objective."""
    nodes = [job.src, *job.dsts]
    if job.clustering:
        nodes += cluster_relays(job.profile, job.src, job.dsts, job.n_relays)
    else:
        nodes += [r for r in job.profile.regions if r not in set(nodes)]
    sub = job.profile.subset(nodes)
    inst = _instance(sub, 0, list(range(1, len(job.dsts) + 1)), job.two_hop)
    price = sub.cost[inst.tail, inst.head]
    gb = job.size_gb / job.stripes
    trees: list[list[Edge]] = []
    status = "optimal"
    bound = None
    if not iterative:
        start = None
        if warm_start:  # an approximate plan on the same overlay is a valid incumbent for the joint program
            start = _warm_start(job, inst, nodes)
        if start is not None and inst.trees and not job.clustering:
            # The exact program: price the other edges out instead of putting all ~5,000 into the MILP.
            # First edges: among the terminals and clustered relays, plus the two-hop edges of every region (so
            # every region has edges, and duals, in the first LP).
            core = np.isin(
                inst.tail, core_nodes := _core(job.profile, job.src, job.dsts, job.n_relays, nodes)
            ) & np.isin(inst.head, core_nodes)
            core |= (inst.tail == 0) | np.isin(inst.head, inst.dsts)
            chosen, _, status, bound = _solve_priced(
                inst, [gb] * job.stripes, job.budget_s, job.max_vms, price, core, start, job.time_limit_s
            )
        else:
            chosen, _, status, bound = _solve(
                inst, [gb] * job.stripes, job.budget_s, job.max_vms, price, time_limit_s=job.time_limit_s, start=start
            )
    else:
        # Stripe-iterative: a few stripes at a time, keeping the VMs bought and the capacity already used.
        chosen = []
        vol0 = np.zeros(inst.m)
        vm_lo = np.zeros(len(nodes))
        for first in range(0, job.stripes, job.stripe_group):
            group = [gb] * min(job.stripe_group, job.stripes - first)
            got, vms, st, _ = _solve(inst, group, job.budget_s, job.max_vms, price, vm_lo, vol0, job.time_limit_s)
            if st != "optimal":
                status = st
            for e in got:
                vol0[e] += gb
            vm_lo = np.maximum(vm_lo, vms)
            chosen += got
    for e in chosen:
        edges = [(nodes[a], nodes[b]) for a, b in zip(inst.tail[e], inst.head[e], strict=True)]
        trees.append(_prune(edges, job.src, job.dsts))
    if refine and (job.clustering or job.two_hop or iterative):
        trees = _refine(
            job.profile, job.src, job.dsts, job.size_gb, job.budget_s, job.max_vms, nodes, trees, job.time_limit_s
        )
        bound = None
    return trees, status, bound


def _core(profile: Profile, src: str, dsts: list[str], n_relays: int, nodes: list[str]) -> np.ndarray:
    """Local indices of the terminals and the clustered relays: the first edges the priced exact program tries."""
    where = {r: i for i, r in enumerate(nodes)}
    return np.array([where[r] for r in [src, *dsts, *cluster_relays(profile, src, dsts, n_relays)]])


def _warm_start(job: _CloudcastJob, inst: _Instance, nodes: list[str]) -> list[list[tuple[int, int]]] | None:
    """An incumbent for the joint program: the full approximate plan if it lies on the program's overlay (and the
    program has no hop limit), else the stripe-iterative plan with the same overlay settings (or None)."""
    where = {r: i for i, r in enumerate(nodes)}
    edges = set(zip(inst.tail.tolist(), inst.head.tolist(), strict=True))
    for cl, th, ref in [(True, True, True)] * inst.trees + [(job.clustering, job.two_hop, False)]:
        try:
            approx, _, _ = _cloudcast(replace(job, clustering=cl, two_hop=th), True, False, ref)
        except InputError:
            continue
        start = [[(where.get(a, -1), where.get(b, -1)) for a, b in t] for t in approx]
        if all(e in edges for t in start for e in t):
            return start
    return None


def _steiner_ilp(
    profile: Profile, src: str, dsts: list[str], alpha: float | None = None, beta: float = 1.0,
    sent: set[str] | None = None, time_limit_s: float | None = None,
) -> tuple[list[Edge], str]:  # fmt: skip
    """Exact minimum-cost Steiner arborescence (directed multi-commodity flow ILP); CloudMPcast when alpha is set."""
    nodes = [src, *dsts] + [r for r in profile.regions if r != src and r not in set(dsts)]
    sub = profile.subset(nodes)
    inst = _instance(sub, 0, list(range(1, len(dsts) + 1)), two_hop=False, alpha=alpha)
    price = sub.cost[inst.tail, inst.head].copy()
    if beta != 1.0:  # regions already paying for egress sit in a cheaper volume tier: bias towards them
        biased = np.array([nodes[t] in (sent or {src}) for t in inst.tail])
        price[biased] *= beta
    chosen, _, status, _ = _solve(inst, [1.0], None, 1, price, time_limit_s=time_limit_s)
    edges = [(nodes[a], nodes[b]) for a, b in zip(inst.tail[chosen[0]], inst.head[chosen[0]], strict=True)]
    return _prune(edges, src, dsts), status


_STEINER_MEMO: dict[tuple, tuple[Profile, list[Edge]]] = {}


def _steiner_approx(profile: Profile, src: str, dsts: list[str]) -> list[Edge]:
    """networkx's Steiner 2-approximation on the undirected graph weighted by the cheaper direction."""
    key = (id(profile), src, tuple(dsts))
    hit = _STEINER_MEMO.get(key)
    if hit is not None and hit[0] is profile:  # the clustering and the refinement both ask for it
        return list(hit[1])
    tree = _steiner_approx_uncached(profile, src, dsts)
    if len(_STEINER_MEMO) > 16:
        _STEINER_MEMO.clear()
    _STEINER_MEMO[key] = (profile, tree)
    return list(tree)


def _steiner_approx_uncached(profile: Profile, src: str, dsts: list[str]) -> list[Edge]:
    g = nx.Graph()
    n = len(profile.regions)
    for i in range(n):
        for j in range(i + 1, n):
            w = min(profile.cost[i, j], profile.cost[j, i])
            if np.isfinite(w):
                g.add_edge(profile.regions[i], profile.regions[j], weight=float(w))
    tree = nx.algorithms.approximation.steiner_tree(g, [src, *dsts], weight="weight")
    if len(dsts) and not tree.number_of_nodes():
        tree.add_nodes_from([src])
    oriented = [(u, v) for u, v in nx.bfs_edges(tree, src)]
    return _prune(oriented, src, dsts)


def _mdst(profile: Profile, src: str, dsts: list[str]) -> list[Edge]:
    """Edmonds' minimum spanning arborescence over the terminals (source and destinations) on $/GB."""
    g = nx.DiGraph()
    terms = [src, *dsts]
    for a in terms:
        for b in terms:
            if a != b and b != src and np.isfinite(profile.cost[profile.idx(a), profile.idx(b)]):
                g.add_edge(a, b, weight=float(profile.cost[profile.idx(a), profile.idx(b)]))
    arb = nx.minimum_spanning_arborescence(g, attr="weight")
    return _prune(list(arb.edges), src, dsts)


def _spider(profile: Profile, src: str, dsts: list[str]) -> list[Edge]:
    """Throughput first (SPIDER-style): the widest-path tree from the source, ties broken by $/GB."""
    n = len(profile.regions)
    s = profile.idx(src)
    width = np.zeros(n)
    price = np.full(n, np.inf)
    width[s], price[s] = np.inf, 0.0
    parent = np.full(n, -1)
    done = np.zeros(n, bool)
    for _ in range(n):
        cand = np.where(done, -1.0, width)
        best = cand.max()
        if best <= 0:
            break
        u = int(np.flatnonzero(cand == best)[np.argmin(price[(cand == best)])])
        done[u] = True
        w = np.minimum(width[u], profile.gbps[u])
        p = price[u] + profile.cost[u]
        better = ~done & ((w > width + 1e-9) | ((np.abs(w - width) <= 1e-9) & (p < price)))
        width[better], price[better], parent[better] = w[better], p[better], u
    edges = []
    for d in dsts:
        v = profile.idx(d)
        while v != s:
            edges.append((profile.regions[parent[v]], profile.regions[v]))
            v = parent[v]
    return _prune(sorted(set(edges)), src, dsts)


def plan_replication(
    src: str,
    dsts: list[str],
    size_gb: float,
    *,
    algo: str = "cloudcast",
    time_budget_s: float | None = None,
    stripes: int = 10,
    max_vms: int = 2,
    exact: bool = False,
    clustering: bool = True,
    two_hop: bool = True,
    iterative: bool = True,
    refine: bool = True,
    n_relays: int = 20,
    stripe_group: int = 1,
    alpha: float = 0.5,
    beta: float = 0.9,
    time_limit_s: float | None = None,
    profile: Profile | None = None,
) -> ReplicationPlan:
    """Plan replicating ``size_gb`` from ``src`` to every region in ``dsts``.

    ``exact=True`` turns off all three Cloudcast approximations (``clustering``, ``two_hop``, ``iterative``).
    With any approximation on, ``refine`` adds a repair step (a short joint re-solve on a small overlay, and
    the best of the direct / Steiner / arborescence baselines that fits the budget), see :func:`_refine`.
    Without ``time_budget_s`` the budget is a loose 2x the time of direct sends with ``max_vms`` VMs.
    An explicit budget that the plan cannot meet is an :class:`InputError`.
    """
    profile = profile or load_profile()
    dsts = list(dict.fromkeys(dsts))
    for r in (src, *dsts):
        profile.idx(r)
    if not dsts:
        raise InputError("give at least one destination region")
    if src in dsts:
        raise InputError(f"the source {src} is also listed as a destination")
    if not size_gb > 0:
        raise InputError(f"size must be > 0 GB, got {size_gb:g}")
    if stripes < 1 or max_vms < 1 or stripe_group < 1:
        raise InputError("stripes, max VMs and stripe group must be >= 1")
    if algo not in ALGOS:
        raise InputError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    if time_budget_s is not None and not time_budget_s > 0:
        raise InputError(f"time budget must be > 0 s, got {time_budget_s:g}")
    explicit = time_budget_s is not None
    budget = time_budget_s if explicit else 2 * direct_time(profile, src, dsts, size_gb, max_vms)
    floor = lower_bound_time(profile, src, dsts, size_gb, max_vms)
    if budget < floor * (1 - 1e-9):
        raise InputError(
            f"time budget {budget:g} s is infeasible: moving {size_gb:g} GB needs at least {floor:.1f} s "
            f"with {max_vms} VMs per region"
        )
    if exact:
        clustering = two_hop = iterative = False
    options = {"stripes": stripes, "max_vms": max_vms}
    t0 = time.perf_counter()
    status = "heuristic"
    bound = None
    if algo == "cloudcast":
        options.update(clustering=clustering, two_hop=two_hop, iterative=iterative)
        if clustering or two_hop or iterative:
            options.update(refine=refine)
        job = _CloudcastJob(
            profile=profile, src=src, dsts=dsts, size_gb=size_gb, budget_s=budget, stripes=stripes, max_vms=max_vms,
            clustering=clustering, two_hop=two_hop, n_relays=n_relays, stripe_group=stripe_group,
            time_limit_s=time_limit_s,
        )  # fmt: skip
        try:
            trees, status, bound = _cloudcast(job, iterative, refine=refine)
        except InputError as e:
            if str(e) != "infeasible":
                raise
            raise InputError(
                f"time budget {budget:g} s is infeasible for {size_gb:g} GB with at most {max_vms} VMs per region"
                + (" (try --exact or a larger budget)" if clustering or two_hop or iterative else "")
            ) from None
    else:
        if algo == "direct":
            tree = [(src, d) for d in dsts]
        elif algo == "mdst":
            tree = _mdst(profile, src, dsts)
        elif algo == "steiner":
            tree = _steiner_approx(profile, src, dsts)
        elif algo == "steiner-ilp":
            tree, status = _steiner_ilp(profile, src, dsts, time_limit_s=time_limit_s)
        elif algo == "spider":
            tree = _spider(profile, src, dsts)
        else:
            options.update(alpha=alpha, beta=beta)
            tree, status = _steiner_ilp(profile, src, dsts, alpha, beta, time_limit_s=time_limit_s)
        trees = [tree] * stripes  # one tree for the whole object
    plan = _finish(profile, algo, src, dsts, size_gb, trees, budget, max_vms, time.perf_counter() - t0, status, options)
    plan.lower_bound_usd = None if bound is None else round(min(bound, plan.total_cost_usd), 6)
    if explicit and not plan.budget_met:
        raise InputError(
            f"time budget {budget:g} s is infeasible for the {algo} tree with at most {max_vms} VMs per region "
            f"(it needs {plan.predicted_time_s:.1f} s)"
        )
    return plan


def pareto_points(src: str, dsts: list[str], size_gb: float, n: int = 8, **kw) -> list[dict]:
    """The cost / time trade-off: the cheapest plan for ``n`` time budgets spread geometrically from the
    fastest possible replication to twice the direct-send time (budgets no plan meets are skipped)."""
    prof = load_profile()
    max_vms = kw.get("max_vms", 2)
    lo = lower_bound_time(prof, src, dsts, size_gb, max_vms)
    hi = max(2 * direct_time(prof, src, dsts, size_gb, max_vms), 1.01 * lo)
    points = []
    for i in range(n):
        budget = lo * (hi / lo) ** (i / max(n - 1, 1))
        try:
            p = plan_replication(src, dsts, size_gb, time_budget_s=budget, profile=prof, **kw)
        except InputError:
            continue
        points.append(
            {
                "time_budget_s": budget,
                "predicted_time_s": p.predicted_time_s,
                "egress_cost_usd": p.egress_cost_usd,
                "vm_cost_usd": p.vm_cost_usd,
                "total_cost_usd": p.total_cost_usd,
            }
        )
    return points
