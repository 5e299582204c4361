"""CASCARA percentile-billing planner: billing arithmetic, exactness of the reduced MILP, online feasibility, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egress_optimizer.cli import run
from egress_optimizer.planners import cascara as c
from egress_optimizer.planners.traces import Link, synthetic_links, synthetic_trace, write_trace_csv

LINKS = [Link("cheap", 60.0, 1.0), Link("mid", 50.0, 2.0), Link("dear", 80.0, 3.0)]


def test_free_slots_and_percentile() -> None:
    assert c.free_slots(8640) == 432
    assert c.free_slots(100) == 5
    x = np.arange(1, 101, dtype=float)
    assert c.percentile_billed(x)[0] == 95.0  # the 95th smallest of 100


def _full_milp(d: np.ndarray, links: list[Link]) -> float:
    """The textbook k-max MILP over every slot (no reduction), solved with scipy: the reference optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, nl, k = len(d), len(links), c.free_slots(len(d))
    cap = np.array([link.capacity_mbps for link in links])
    # columns: P (nl), x (n*nl), z (n*nl)
    nv = nl + 2 * n * nl
    cost = np.zeros(nv)
    cost[:nl] = [link.rate_usd_per_mbps for link in links]
    rows, lo, hi = [], [], []
    for t in range(n):
        r = np.zeros(nv)
        r[nl + t * nl : nl + (t + 1) * nl] = 1
        rows.append(r), lo.append(d[t]), hi.append(d[t])
        for ell in range(nl):
            r = np.zeros(nv)
            r[nl + t * nl + ell] = 1
            r[ell] = -1
            r[nl + n * nl + t * nl + ell] = -cap[ell]
            rows.append(r), lo.append(-np.inf), hi.append(0)
    for ell in range(nl):
        r = np.zeros(nv)
        r[nl + n * nl + ell :: nl] = 1
        rows.append(r), lo.append(-np.inf), hi.append(k)
    upper = np.concatenate([cap, np.tile(cap, n), np.ones(n * nl)])
    integ = np.concatenate([np.zeros(nl + n * nl), np.ones(n * nl)])
    res = milp(cost, constraints=LinearConstraint(np.array(rows), lo, hi), bounds=Bounds(0, upper), integrality=integ)
    assert res.success
    return float(res.fun)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reduced_milp_matches_full_milp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = rng.uniform(20, 150, 60)
    d[rng.integers(0, 60, 4)] = 185.0  # bursts near total capacity force multi-link exemptions
    off = c.offline_optimum(d, LINKS, time_limit=20, mip_gap=0.0)
    assert off.cost == pytest.approx(_full_milp(d, LINKS), rel=1e-6, abs=1e-6)
    assert np.allclose(off.alloc.sum(axis=1), d)
    for heuristic in (c.load_balance, c.greedy_cheapest, c.cascara_online):
        assert off.cost <= heuristic(d, LINKS).cost + 1e-6


def _check_feasible(a: c.Allocation, d: np.ndarray) -> None:
    cap = np.array([link.capacity_mbps for link in a.links])
    assert np.allclose(a.alloc.sum(axis=1), d, atol=1e-6)
    assert np.all(a.alloc >= -1e-9) and np.all(a.alloc <= cap + 1e-6)


def test_online_and_baselines_are_feasible_and_ordered() -> None:
    d = synthetic_trace(4, seed=5)
    links = synthetic_links(5, 4, peak_mbps=float(d.max()))
    k = c.free_slots(len(d))
    on = c.cascara_online(d, links, c.tune_online(d, links))
    assert all(u <= k for u in on.info["burst_slots_used"])
    results = [on, c.load_balance(d, links), c.greedy_cheapest(d, links), c.top10_proxy(d, links)]
    for a in results:
        _check_feasible(a, d)
    off = c.offline_optimum(d, links, time_limit=3)
    _check_feasible(off, d)
    assert off.cost <= min(a.cost for a in results) + 1e-6
    assert off.info["lower_bound_usd"] <= off.cost + 1e-6
    assert on.cost < results[1].cost  # CASCARA beats load balancing


def test_synthetic_trace_shape_and_seed() -> None:
    a, b = synthetic_trace(30, seed=3), synthetic_trace(30, seed=3)
    assert len(a) == 8640 and np.array_equal(a, b) and np.all(a >= 0)
    assert not np.array_equal(a, synthetic_trace(30, seed=4))


def test_loaders_reject_bad_input(tmp_path) -> None:
    bad = tmp_path / "d.csv"
    bad.write_text("timestamp,demand_mbps\n2026-11-01T00:00:00Z,abc\n")
    with pytest.raises(ValueError, match="not a number"):
        c.load_demand_csv(bad)
    y = tmp_path / "l.yaml"
    y.write_text("links: [{name: a, capacity_mbps: -1, rate_usd_per_mbps: 1}]\n")
    with pytest.raises(ValueError, match="capacity_mbps > 0"):
        c.load_links_yaml(y)


def test_cli_links_json_and_errors(tmp_path, capsys) -> None:
    d = synthetic_trace(2, seed=9)
    write_trace_csv(tmp_path / "d.csv", d)
    (tmp_path / "l.yaml").write_text(
        "links:\n"
        "  - {name: peer, capacity_mbps: 4000, rate_usd_per_mbps: 0.5}\n"
        "  - {name: transitA, capacity_mbps: 5000, rate_usd_per_mbps: 1.5}\n"
        "  - {name: transitB, capacity_mbps: 6000, rate_usd_per_mbps: 2.5}\n"
    )
    out = tmp_path / "alloc.csv"
    argv = ["plan", "links", "--demand", str(tmp_path / "d.csv"), "--links", str(tmp_path / "l.yaml")]
    assert run([*argv, "--time-limit", "2", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["strategies"]) == {"online", "offline", "load_balance", "greedy", "top10"}
    off = doc["strategies"]["offline"]["cost_usd"]
    assert all(off <= s["cost_usd"] + 0.01 for s in doc["strategies"].values())
    assert len(out.read_text().splitlines()) == len(d) + 1
    assert run([*argv, "--strategies", "nope"]) == 2
    assert run(["plan", "links", "--demand", str(tmp_path / "missing.csv"), "--links", str(tmp_path / "l.yaml")]) == 2
    (tmp_path / "small.yaml").write_text("links: [{name: a, capacity_mbps: 10, rate_usd_per_mbps: 1}]\n")
    assert run(["plan", "links", "--demand", str(tmp_path / "d.csv"), "--links", str(tmp_path / "small.yaml")]) == 2
    assert "exceeds total link capacity" in capsys.readouterr().err
