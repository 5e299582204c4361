"""Percentile-billing link allocation: CASCARA's offline optimum and online heuristic, plus baselines.

Reference: R. Singh, S. Agarwal, M. Calder, P. Bahl, "Cost-effective cloud edge traffic engineering with
CASCARA", NSDI 2021. Baselines follow Entact (Zhang et al., NSDI 2010: send traffic to the cheapest link first)
and Pretium (Jalaparti et al., SIGCOMM 2016: protect the top 10% of slots as a convex proxy for the percentile).

Billing model: each 5-minute slot's demand D_t is split across links; link l is billed
``rate_l x P95_l`` where P95_l is the ``ceil(0.95 T)``-th smallest of its T slot allocations, so its top
``k = T - ceil(0.95 T)`` slots (432 of a 30-day month) are free.

Offline optimum (MILP, "k-max" formulation): variables P_l (billed level), x_tl (allocation) and binaries
z_tl (slot t is one of link l's k free slots)::

    min sum_l rate_l P_l
    s.t. sum_l x_tl = D_t,  x_tl <= P_l + C_l z_tl,  sum_t z_tl <= k,  0 <= x_tl <= C_l,  0 <= P_l <= C_l

Exact size reduction: every slot with D_t > sum_l P_l needs at least one free slot on some link, and there are
only L*k free slots in total, so in any feasible solution every slot outside the L*k highest-demand slots
satisfies D_t <= sum_l P_l and needs no exemption. Those slots therefore collapse into the single row
``sum_l P_l >= D_(L*k+1)`` and only the top L*k slots carry x/z variables: a month on 4 links has 1,728 slots x
4 links = 6,912 binaries instead of 34,560, with the same optimum. HiGHS then runs with a time limit and a
relative MIP gap; the solver's dual bound is reported so a non-zero gap is visible, never hidden.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egress_optimizer.planners.traces import Link

PERCENTILE = 0.95


def free_slots(n_slots: int, percentile: float = PERCENTILE) -> int:
    """Slots per link exempt from billing: T - ceil(p T) (432 of 8,640)."""
    return n_slots - math.ceil(percentile * n_slots - 1e-9)


def percentile_billed(x: np.ndarray, percentile: float = PERCENTILE) -> np.ndarray:
    """Billed level of each column of ``x`` (slots x links): the ceil(p T)-th smallest value."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    rank = math.ceil(percentile * n - 1e-9) - 1
    return np.partition(x, rank, axis=0)[rank]


@dataclass
class Allocation:
    """Result of one strategy: per-slot allocation, each link's 95th percentile and the monthly bill."""

    strategy: str
    links: list[Link]
    alloc: np.ndarray  # slots x links, Mbps
    p95: np.ndarray = field(init=False)
    cost: float = field(init=False)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.p95 = percentile_billed(self.alloc)
        self.cost = float(sum(link.rate_usd_per_mbps * p for link, p in zip(self.links, self.p95, strict=True)))

    def to_dict(self, with_slots: bool = False) -> dict:
        out = {
            "strategy": self.strategy,
            "cost_usd": round(self.cost, 2),
            "links": [
                {"name": link.name, "p95_mbps": round(float(p), 3), "cost_usd": round(link.rate_usd_per_mbps * p, 2)}
                for link, p in zip(self.links, self.p95, strict=True)
            ],
            "info": self.info,
        }
        if with_slots:
            out["allocation_mbps"] = np.round(self.alloc, 3).tolist()
        return out


def check_feasible(demand: np.ndarray, links: Sequence[Link]) -> None:
    cap = sum(link.capacity_mbps for link in links)
    peak = float(np.max(demand)) if len(demand) else 0.0
    if peak > cap * (1 + 1e-9):
        raise ValueError(f"peak demand {peak:,.1f} Mbps exceeds total link capacity {cap:,.1f} Mbps")
    if np.any(np.asarray(demand) < 0):
        raise ValueError("demand must be non-negative")


def _fill(amount: float, order: Sequence[int], room: np.ndarray, row: np.ndarray) -> float:
    """Pour ``amount`` into ``row`` following ``order`` up to ``room``; return what is left."""
    for i in order:
        if amount <= 1e-9:
            break
        take = min(amount, room[i])
        if take > 0:
            row[i] += take
            room[i] -= take
            amount -= take
    return amount


# --------------------------------------------------------------------------------------------- baselines


def load_balance(demand: np.ndarray, links: Sequence[Link]) -> Allocation:
    """Split every slot in proportion to link capacity."""
    check_feasible(demand, links)
    cap = np.array([link.capacity_mbps for link in links])
    return Allocation("load_balance", list(links), np.outer(demand, cap / cap.sum()))


def greedy_cheapest(demand: np.ndarray, links: Sequence[Link]) -> Allocation:
    """Entact-style: fill the cheapest link to capacity, then the next, in every slot."""
    check_feasible(demand, links)
    order = sorted(range(len(links)), key=lambda i: links[i].rate_usd_per_mbps)
    cap = np.array([link.capacity_mbps for link in links])
    alloc = np.zeros((len(demand), len(links)))
    remaining = np.asarray(demand, dtype=float).copy()
    for i in order:  # vectorised over slots: one pass per link
        take = np.minimum(remaining, cap[i])
        alloc[:, i] = take
        remaining -= take
    return Allocation("greedy_cheapest", list(links), alloc)


def top10_proxy(demand: np.ndarray, links: Sequence[Link], time_limit: float = 120.0) -> Allocation:
    """Pretium-style convex proxy: minimise sum_l rate_l x (mean of link l's top 10% slots).

    The mean of the top q slots is LP-representable (min_u q u + sum_t max(0, x_t - u), as in CVaR), so this
    is one LP; the resulting allocation is then billed on its true 95th percentile.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    check_feasible(demand, links)
    d = np.asarray(demand, dtype=float)
    n, nl = len(d), len(links)
    q = max(1, round(0.10 * n))
    rate = np.array([link.rate_usd_per_mbps for link in links])
    cap = np.array([link.capacity_mbps for link in links])
    # columns: x (n*nl, slot-major), s (n*nl excess over u), u (nl)
    nx = n * nl
    cost = np.concatenate([np.zeros(nx), np.repeat(rate / q, n).reshape(nl, n).T.ravel(), rate])
    rows, cols, vals = [], [], []
    # x_tl - s_tl - u_l <= 0
    idx = np.arange(nx)
    rows += [idx, idx, idx]
    cols += [idx, nx + idx, 2 * nx + (idx % nl)]
    vals += [np.ones(nx), -np.ones(nx), -np.ones(nx)]
    a_ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nx, 2 * nx + nl))
    eq_rows = np.repeat(np.arange(n), nl)
    a_eq = coo_matrix((np.ones(nx), (eq_rows, idx)), shape=(n, 2 * nx + nl))
    bounds = [(0, c) for c in np.tile(cap, n)] + [(0, None)] * nx + [(0, None)] * nl
    res = linprog(
        cost,
        A_ub=a_ub.tocsr(),
        b_ub=np.zeros(nx),
        A_eq=a_eq.tocsr(),
        b_eq=d,
        bounds=bounds,
        method="highs",
        options={"time_limit": time_limit},
    )
    if res.x is None:
        raise RuntimeError(f"top-10% LP failed: {res.message}")
    alloc = res.x[:nx].reshape(n, nl)
    return Allocation("top10_proxy", list(links), np.maximum(alloc, 0.0), info={"lp_status": res.message})


# --------------------------------------------------------------------------------------------- offline


def offline_optimum(
    demand: np.ndarray,
    links: Sequence[Link],
    time_limit: float = 60.0,
    mip_gap: float = 1e-3,
    threads: int = 1,
    warm_start: Allocation | None = None,
) -> Allocation:
    """Exact CASCARA offline optimum (MILP on the top L*k slots; see the module docstring).

    Beyond the k-max rows, binaries u_t ("slot t needs an exemption") with u_1 >= u_2 >= ... over the slots in
    decreasing demand tighten the relaxation: WLOG only slots above sum_l P_l carry exemptions and they form a
    prefix, so ``sum_l P_l >= D_(r+1)`` (r = number of exempt slots) is the staircase
    ``sum_l P_l >= D_(m+1) + sum_t (D_t - D_(t+1)) (1 - u_t)``, and each exempt slot consumes a whole unit of the
    L*k exemption budget (``sum_l z_tl >= u_t``) instead of a fraction in the LP relaxation.

    ``warm_start`` (any feasible allocation, by default the better of greedy-cheapest and a hindsight-tuned
    online run) gives HiGHS an incumbent. ``info`` carries the solver status, the MIP gap reached, the dual
    (lower) bound on the optimal bill and the formulation size.
    """
    import highspy

    check_feasible(demand, links)
    d = np.asarray(demand, dtype=float)
    n, nl = len(d), len(links)
    k = free_slots(n)
    cap = np.array([link.capacity_mbps for link in links])
    rate = np.array([link.rate_usd_per_mbps for link in links])
    m = min(n, nl * k)
    order = np.argsort(-d, kind="stable")
    top = order[:m]
    dt = d[top]
    rest_peak = float(d[order[m]]) if m < n else 0.0
    stride = 2 * nl + 1

    # columns: P_l (nl), then per top slot j: x_j0..x_j(nl-1), z_j0..z_j(nl-1), u_j
    def xc(j: int, ell: int) -> int:
        return nl + j * stride + ell

    def zc(j: int, ell: int) -> int:
        return nl + j * stride + nl + ell

    def uc(j: int) -> int:
        return nl + j * stride + 2 * nl

    ncol = nl + m * stride
    col_cost = np.zeros(ncol)
    col_cost[:nl] = rate
    col_lo = np.zeros(ncol)
    col_hi = np.ones(ncol)
    col_hi[:nl] = cap
    integrality = np.ones(ncol, dtype=np.int32)
    integrality[:nl] = 0
    for j in range(m):
        col_hi[xc(j, 0) : xc(j, 0) + nl] = np.minimum(cap, dt[j])
        integrality[xc(j, 0) : xc(j, 0) + nl] = 0

    starts, index, value, row_lo, row_hi = [0], [], [], [], []

    def add_row(cols: list[int], vals: list[float], lo: float, hi: float) -> None:
        index.extend(cols)
        value.extend(vals)
        starts.append(len(index))
        row_lo.append(lo)
        row_hi.append(hi)

    inf = highspy.kHighsInf
    # staircase: sum P + sum_j gap_j u_j >= D_1 (gap_j = D_j - D_(j+1), with D_(m+1) = rest_peak)
    gaps = dt - np.append(dt[1:], rest_peak)
    add_row(list(range(nl)) + [uc(j) for j in range(m)], [1.0] * nl + gaps.tolist(), float(dt[0]) if m else 0.0, inf)
    for j in range(m):
        add_row([xc(j, ell) for ell in range(nl)], [1.0] * nl, float(dt[j]), float(dt[j]))
        for ell in range(nl):
            big_m = float(min(cap[ell], dt[j]))  # x_jl never exceeds the slot's demand
            add_row([xc(j, ell), ell, zc(j, ell)], [1.0, -1.0, -big_m], -inf, 0.0)
            add_row([zc(j, ell), uc(j)], [1.0, -1.0], -inf, 0.0)  # exemptions only in exempt slots
        add_row([zc(j, ell) for ell in range(nl)] + [uc(j)], [1.0] * nl + [-1.0], 0.0, inf)
        if j + 1 < m:
            add_row([uc(j), uc(j + 1)], [1.0, -1.0], 0.0, inf)  # exempt slots form a prefix
    for ell in range(nl):
        add_row([zc(j, ell) for j in range(m)], [1.0] * m, -inf, float(k))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    h.passModel(
        ncol,
        len(row_lo),
        len(index),
        2,  # row-wise
        1,  # minimise
        0.0,
        col_cost,
        col_lo,
        col_hi,
        np.array(row_lo),
        np.array(row_hi),
        np.array(starts[:-1], dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value),
        integrality,
    )
    if warm_start is None:
        warm_start = min((greedy_cheapest(d, links), hindsight_online(d, links)), key=lambda a: a.cost)
    h.setSolution(_warm_vector(warm_start, d, top, nl, stride, ncol))
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    sol = np.array(h.getSolution().col_value)
    if sol.size != ncol or not np.all(np.isfinite(sol)):
        raise RuntimeError(f"MILP found no solution ({status})")
    levels = np.minimum(np.maximum(sol[:nl], 0.0), cap)
    alloc = np.zeros((n, nl))
    # non-top slots: any split under the levels has the same bill; fill cheapest first
    cheap = list(np.argsort(rate, kind="stable"))
    top_set = np.zeros(n, dtype=bool)
    top_set[top] = True
    for t in np.flatnonzero(~top_set):
        _fill(float(d[t]), cheap, levels.copy(), alloc[t])
    for j, t in enumerate(top):
        alloc[t] = np.clip([sol[xc(j, ell)] for ell in range(nl)], 0.0, cap)
    result = Allocation(
        "offline_optimum",
        list(links),
        alloc,
        info={
            "status": status,
            "mip_gap": round(float(info.mip_gap), 6),
            "lower_bound_usd": round(float(info.mip_dual_bound), 2),
            "solve_seconds": round(seconds, 2),
            "warm_start": f"{warm_start.strategy} ${warm_start.cost:,.2f}",
            "binaries": int(m * (nl + 1)),
            "top_slots": int(m),
            "free_slots_per_link": int(k),
        },
    )
    if result.cost > warm_start.cost:  # HiGHS rejected the start and ran out of time: never report worse
        kept = {**result.info, "incumbent": "warm start (solver found nothing cheaper)"}
        return Allocation("offline_optimum", list(links), warm_start.alloc.copy(), info=kept)
    return result


def _warm_vector(start: Allocation, d: np.ndarray, top: np.ndarray, nl: int, stride: int, ncol: int):
    """Map a feasible allocation onto the MILP's columns (its own 95th percentiles as the levels)."""
    import highspy

    levels = percentile_billed(start.alloc)
    vec = np.zeros(ncol)
    vec[:nl] = levels
    total = levels.sum()
    for j, t in enumerate(top):
        base = nl + j * stride
        row = start.alloc[t]
        vec[base : base + nl] = row
        if d[t] > total + 1e-7:
            over = row > levels + 1e-7
            vec[base + nl : base + 2 * nl] = over
            vec[base + 2 * nl] = 1.0
    sol = highspy.HighsSolution()
    sol.col_value = vec.tolist()
    sol.value_valid = True
    return sol


# --------------------------------------------------------------------------------------------- online


@dataclass(frozen=True)
class OnlineParams:
    """Knobs of CASCARA's online heuristic (all level changes are fractions of a link's capacity).

    cf: billable capacity fraction: the initial "free up to" levels add up to cf x total capacity, assigned
        cheapest link first. alpha: step increase of a level when a slot cannot be carried under the levels plus
        burst slots. beta: pre-emptive increase when burst slots are being used faster than pro rata.
    burst_slack: how far (fraction of the budget) burst use may run ahead of pro rata before beta fires.
    ramp_slots: ramp-up limit: at least this many slots between two pre-emptive increases of the same link.
    """

    cf: float = 0.5
    alpha: float = 0.02
    beta: float = 0.01
    burst_slack: float = 0.15
    ramp_slots: int = 12


def initial_levels(links: Sequence[Link], cf: float) -> np.ndarray:
    cap = np.array([link.capacity_mbps for link in links])
    levels = np.zeros(len(links))
    budget = cf * cap.sum()
    for i in sorted(range(len(links)), key=lambda i: links[i].rate_usd_per_mbps):
        levels[i] = min(cap[i], budget)
        budget -= levels[i]
    return levels


def cascara_online(demand: np.ndarray, links: Sequence[Link], params: OnlineParams | None = None) -> Allocation:
    """CASCARA online: slot by slot, without knowledge of future demand.

    Each slot is first poured into links cheapest-first up to their current billed levels (free at the margin).
    Any excess uses burst slots (at most k per link per period), preferring a link whose headroom covers the
    excess alone and that has the most unused budget. If bursts cannot carry it, the cheapest links' levels rise
    in steps of alpha. When a link's burst use runs ahead of pro rata, the cheapest link with headroom is raised
    by beta pre-emptively (at most once per ``ramp_slots``), trading a slightly higher bill for burst budget kept
    for the rest of the month.
    """
    p = params or OnlineParams()
    check_feasible(demand, links)
    d = np.asarray(demand, dtype=float)
    n, nl = len(d), len(links)
    k = free_slots(n)
    cap = np.array([link.capacity_mbps for link in links])
    levels = initial_levels(links, p.cf)
    cheap = sorted(range(nl), key=lambda i: links[i].rate_usd_per_mbps)
    used = np.zeros(nl, dtype=int)
    last_raise = np.full(nl, -(10**9))
    alloc = np.zeros((n, nl))
    for t in range(n):
        row = alloc[t]
        rest = _fill(float(d[t]), cheap, levels.copy(), row)
        if rest > 1e-9:
            avail = [i for i in range(nl) if used[i] < k and cap[i] - row[i] > 1e-9]
            covering = [i for i in avail if cap[i] - row[i] >= rest]
            if covering:
                order = sorted(covering, key=lambda i: (-(k - used[i]), links[i].rate_usd_per_mbps))
            else:
                order = sorted(avail, key=lambda i: -(cap[i] - row[i]))
            for i in order:
                if rest <= 1e-9:
                    break
                take = min(rest, cap[i] - row[i])
                row[i] += take
                rest -= take
                used[i] += 1
        while rest > 1e-9:  # no burst left: raise levels cheapest first, alpha at a time
            raised = False
            for i in cheap:
                if levels[i] < cap[i] - 1e-9:
                    step = min(cap[i] - levels[i], max(p.alpha * cap[i], 1e-6))
                    levels[i] += step
                    # links already bursting this slot stay above their level; the rest absorb the raise
                    add = min(step, rest) if row[i] <= levels[i] - step + 1e-9 else 0.0
                    row[i] += add
                    rest -= add
                    raised = True
                    break
            if not raised:  # every level is at capacity: take what capacity is left anywhere
                rest = _fill(rest, cheap, cap - row, row)
                break
        # pre-emptive increase when bursts are consumed faster than pro rata
        elapsed = (t + 1) / n
        if p.beta > 0 and np.any(used > k * (elapsed + p.burst_slack)):
            for i in cheap:
                if levels[i] < cap[i] - 1e-9:
                    if t - last_raise[i] >= p.ramp_slots:
                        levels[i] = min(cap[i], levels[i] + p.beta * cap[i])
                        last_raise[i] = t
                    break
    return Allocation(
        "cascara_online",
        list(links),
        alloc,
        info={"params": p.__dict__, "burst_slots_used": used.tolist(), "final_levels": levels.round(3).tolist()},
    )


def tune_online(
    history: np.ndarray,
    links: Sequence[Link],
    cfs: Sequence[float] | None = None,
    alphas: Sequence[float] = (0.01,),
    betas: Sequence[float] = (0.0, 0.01),
) -> OnlineParams:
    """Pick C_f (and alpha, beta) by replaying the previous billing period, as CASCARA tunes C_f on history."""
    cfs = cfs if cfs is not None else [round(float(x), 3) for x in np.linspace(0.04, 1.0, 25)]
    best: tuple[float, OnlineParams] | None = None
    for cf in cfs:
        for a in alphas:
            for b in betas:
                params = OnlineParams(cf=cf, alpha=a, beta=b)
                cost = cascara_online(history, links, params).cost
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, params)
    assert best is not None
    return best[1]


def hindsight_online(demand: np.ndarray, links: Sequence[Link]) -> Allocation:
    """The online heuristic tuned on the very trace it then runs on: a cheap, good incumbent for the MILP."""
    params = tune_online(demand, links, cfs=[round(float(x), 3) for x in np.linspace(0.04, 1.0, 25)], betas=(0.0,))
    return cascara_online(demand, links, params)


# --------------------------------------------------------------------------------------------- inputs


def load_demand_csv(path: Path) -> np.ndarray:
    """Read ``timestamp,demand_mbps`` (one row per 5-minute slot, in time order)."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "demand_mbps" not in reader.fieldnames:
                raise ValueError(f"{path}: expected a header with timestamp,demand_mbps")
            values = []
            for lineno, row in enumerate(reader, start=2):
                try:
                    values.append(float(row["demand_mbps"]))
                except (TypeError, ValueError):
                    raise ValueError(f"{path}:{lineno}: demand_mbps is not a number") from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    if not values:
        raise ValueError(f"{path}: no demand rows")
    arr = np.array(values)
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}: demand must be finite and non-negative")
    return arr


def load_links_yaml(path: Path) -> list[Link]:
    """Read ``links: [{name, capacity_mbps, rate_usd_per_mbps}]``."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML ({type(e).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("links"), list) or not doc["links"]:
        raise ValueError(f"{path}: expected a non-empty 'links' list")
    links = []
    for i, item in enumerate(doc["links"]):
        try:
            link = Link(str(item["name"]), float(item["capacity_mbps"]), float(item["rate_usd_per_mbps"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: links[{i}] needs name, capacity_mbps and rate_usd_per_mbps") from None
        if link.capacity_mbps <= 0 or link.rate_usd_per_mbps < 0:
            raise ValueError(f"{path}: links[{i}] needs capacity_mbps > 0 and rate_usd_per_mbps >= 0")
        links.append(link)
    if len({link.name for link in links}) != len(links):
        raise ValueError(f"{path}: link names must be unique")
    return links


STRATEGIES = ("online", "offline", "load_balance", "greedy", "top10")


def check_strategies(strategies: Sequence[str]) -> None:
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ValueError(f"unknown strategy {', '.join(unknown) or '(none)'}; choose from {', '.join(STRATEGIES)}")


def compare_strategies(
    demand: np.ndarray,
    links: Sequence[Link],
    strategies: Sequence[str],
    params: OnlineParams | None = None,
    tuned_on: str = "",
    time_limit: float = 30.0,
) -> dict[str, Allocation]:
    """The allocation each strategy makes of ``demand`` over ``links`` (the offline optimum starts from the
    cheapest of the others); ``params`` tune the online heuristic, ``tuned_on`` says on what."""
    check_strategies(strategies)
    check_feasible(demand, links)
    results: dict[str, Allocation] = {}
    if "online" in strategies:
        results["online"] = cascara_online(demand, links, params)
        results["online"].info["tuned_on"] = tuned_on
    if "load_balance" in strategies:
        results["load_balance"] = load_balance(demand, links)
    if "greedy" in strategies:
        results["greedy"] = greedy_cheapest(demand, links)
    if "top10" in strategies:
        results["top10"] = top10_proxy(demand, links)
    if "offline" in strategies:
        start = min(results.values(), key=lambda a: a.cost) if results else None
        results["offline"] = offline_optimum(demand, links, time_limit=time_limit, warm_start=start)
    return results
