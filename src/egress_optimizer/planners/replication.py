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

It is solved with HiGHS (``scipy.optimize.milp``). Cloudcast's three approximations can each be
switched off to compare with the exact program: node clustering (about 20 representative relay regions),
at most two overlay hops per destination, and stripe-iterative solving with residual capacity.

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
from dataclasses import asdict, dataclass, field

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

    @property
    def m(self) -> int:
        return len(self.tail)


def _instance(sub: Profile, s: int, dsts: list[int], two_hop: bool, alpha: float | None = None) -> _Instance:
    n = len(sub.regions)
    ii, jj = np.nonzero(np.isfinite(sub.cost))
    keep = jj != s  # nothing flows back into the source
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
    return _Instance(sub, s, dsts, tail, head, masks)


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
) -> tuple[list[np.ndarray], np.ndarray | None, str]:
    """Solve the stripe MILP; returns the chosen edge indices per stripe, VMs per node and a status.

    ``budget_s=None`` drops time and VMs (a pure minimum-cost Steiner arborescence per stripe). ``vm_lo`` and
    ``vol0`` (GB already on each edge) carry VMs and used capacity between stripe-iterative rounds.
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
    for k in range(K):
        for di, d in enumerate(inst.dsts):
            e = ed[di]
            t = len(e)
            fv = off + np.arange(t)
            # conservation: inflow - outflow = +1 at d, -1 at s, 0 elsewhere
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
            add(
                np.zeros(2 * m, int),
                np.concatenate([k * m + np.arange(m), (k + 1) * m + np.arange(m)]),
                np.concatenate([price, -price]),
                np.array([-np.inf]),
                np.array([1e-9]),
            )
    integrality = np.zeros(nvar)
    integrality[:nx_] = 1
    vlb = np.zeros(nvar)
    vub = np.ones(nvar)
    if budget_s is not None:
        nv = nx_ + nf + np.arange(n)
        integrality[nv] = 1
        vlb[nv] = 0 if vm_lo is None else vm_lo
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
        for end, lim in ((tail, sub.egress_gbps), (head, sub.ingress_gbps)):  # per-VM egress / ingress
            used = np.bincount(end, weights=8 * vol0, minlength=n)
            add(
                np.concatenate([end[ek], np.arange(n)]),
                np.concatenate([xk, nv]),
                np.concatenate([coef, -lim * budget_s]),
                np.full(n, -np.inf),
                -used,
            )
    A = sparse.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, nvar))
    x0 = None
    if start is not None:  # an incumbent (e.g. the approximate plan) lets HiGHS prune from the first node
        x0 = _start_vector(inst, start, ed, nx_, nvar, budget_s, max_vms, gbs)
    values, _vms_x, status = _highs(c, A, np.concatenate(lo), np.concatenate(hi), vlb, vub, integrality,
                                   time_limit_s, gap, x0)  # fmt: skip
    if values is None:
        if status == "time_limit":
            raise InputError(f"no feasible plan found within the solver time limit of {time_limit_s:g} s")
        raise InputError("infeasible")  # caller rewrites this into a message about the budget
    x = values[:nx_].reshape(K, m) > 0.5
    vms = np.rint(values[nx_ + nf :]).astype(int) if budget_s is not None else None
    return [np.flatnonzero(x[k]) for k in range(K)], vms, status


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
) -> tuple[np.ndarray | None, None, str]:
    """Solve with HiGHS through highspy (scipy's ``milp`` wraps the same solver but takes no start point)."""
    import highspy

    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("threads", 1)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
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
    lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in integrality]
    h.passModel(lp)
    if x0 is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(x0)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    ok = h.getInfo().primal_solution_status == 2  # a feasible point exists
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    elif ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return None, None, "infeasible"
    else:
        status = "time_limit"
    if not ok:
        return None, None, status
    return np.asarray(h.getSolution().col_value), None, status


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
    """The MILP vector of a known plan (trees as local (tail, head) pairs), stripes ordered by tree cost."""
    m, n = inst.m, len(inst.sub.regions)
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(inst.tail, inst.head, strict=True))}
    price = inst.sub.cost
    start = sorted(start, key=lambda t: sum(price[a, b] for a, b in t))
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
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n_relays and any(depth < len(g) for g in members):
        for g in members:
            if depth < len(g) and len(chosen) < n_relays:
                chosen.append(g[depth][1])
        depth += 1
    return [profile.regions[r] for r in chosen]


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


def _cloudcast(
    profile: Profile,
    src: str,
    dsts: list[str],
    size_gb: float,
    budget_s: float,
    stripes: int,
    max_vms: int,
    clustering: bool,
    two_hop: bool,
    iterative: bool,
    n_relays: int,
    stripe_group: int,
    time_limit_s: float | None,
    warm_start: bool = True,
) -> tuple[list[list[Edge]], str]:
    nodes = [src, *dsts]
    if clustering:
        nodes += cluster_relays(profile, src, dsts, n_relays)
    else:
        nodes += [r for r in profile.regions if r not in set(nodes)]
    sub = profile.subset(nodes)
    inst = _instance(sub, 0, list(range(1, len(dsts) + 1)), two_hop)
    price = sub.cost[inst.tail, inst.head]
    gb = size_gb / stripes
    trees: list[list[Edge]] = []
    status = "optimal"
    if not iterative:
        start = None
        if warm_start:  # the stripe-iterative plan on the same overlay is a valid incumbent for the joint program
            try:
                approx, _ = _cloudcast(
                    profile, src, dsts, size_gb, budget_s, stripes, max_vms, clustering, two_hop, True,
                    n_relays, stripe_group, time_limit_s, False,
                )  # fmt: skip
                where = {r: i for i, r in enumerate(nodes)}
                start = [[(where[a], where[b]) for a, b in t] for t in approx]
            except InputError:
                pass
        chosen, _, status = _solve(
            inst, [gb] * stripes, budget_s, max_vms, price, time_limit_s=time_limit_s, start=start
        )
    else:
        # Stripe-iterative: a few stripes at a time, keeping the VMs bought and the capacity already used.
        chosen = []
        vol0 = np.zeros(inst.m)
        vm_lo = np.zeros(len(nodes))
        for start in range(0, stripes, stripe_group):
            group = [gb] * min(stripe_group, stripes - start)
            got, vms, st = _solve(inst, group, budget_s, max_vms, price, vm_lo, vol0, time_limit_s)
            if st != "optimal":
                status = st
            for e in got:
                vol0[e] += gb
            vm_lo = np.maximum(vm_lo, vms)
            chosen += got
    for e in chosen:
        edges = [(nodes[a], nodes[b]) for a, b in zip(inst.tail[e], inst.head[e], strict=True)]
        trees.append(_prune(edges, src, dsts))
    return trees, status


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
    chosen, _, status = _solve(inst, [1.0], None, 1, price, time_limit_s=time_limit_s)
    edges = [(nodes[a], nodes[b]) for a, b in zip(inst.tail[chosen[0]], inst.head[chosen[0]], strict=True)]
    return _prune(edges, src, dsts), status


def _steiner_approx(profile: Profile, src: str, dsts: list[str]) -> list[Edge]:
    """networkx's Steiner 2-approximation on the undirected graph weighted by the cheaper direction."""
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
    n_relays: int = 20,
    stripe_group: int = 1,
    alpha: float = 0.5,
    beta: float = 0.9,
    time_limit_s: float | None = None,
    profile: Profile | None = None,
) -> ReplicationPlan:
    """Plan replicating ``size_gb`` from ``src`` to every region in ``dsts``.

    ``exact=True`` turns off all three Cloudcast approximations (``clustering``, ``two_hop``, ``iterative``).
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
    if algo == "cloudcast":
        options.update(clustering=clustering, two_hop=two_hop, iterative=iterative)
        try:
            trees, status = _cloudcast(
                profile, src, dsts, size_gb, budget, stripes, max_vms, clustering, two_hop, iterative,
                n_relays, stripe_group, time_limit_s,
            )  # fmt: skip
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
    if explicit and not plan.budget_met:
        raise InputError(
            f"time budget {budget:g} s is infeasible for the {algo} tree with at most {max_vms} VMs per region "
            f"(it needs {plan.predicted_time_s:.1f} s)"
        )
    return plan
