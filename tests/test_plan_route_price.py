"""Routing over the measured region grid and the ``egress price`` calculators."""

from __future__ import annotations

import json

import pytest

from egress_optimizer.cli import run
from egress_optimizer.planners import calculators as calc
from egress_optimizer.planners.routing import evaluate, load_graph, plan_route


@pytest.fixture(scope="module")
def grid(shared):
    return load_graph(shared)


def test_route_objectives_are_consistent(grid) -> None:
    cost = plan_route(grid, "aws:us-east-1", "gcp:asia-east1-a", 100, "cost")
    fast = plan_route(grid, "aws:us-east-1", "gcp:asia-east1-a", 100, "latency")
    bal = plan_route(grid, "aws:us-east-1", "gcp:asia-east1-a", 100, "balanced")
    assert cost.cost_usd <= fast.cost_usd + 1e-9 and cost.cost_usd <= bal.cost_usd + 1e-9
    assert fast.seconds <= cost.seconds + 1e-9 and fast.seconds <= bal.seconds + 1e-9
    direct = evaluate(grid, ["aws:us-east-1", "gcp:asia-east1-a"], 100, 10.0)
    assert cost.cost_usd <= direct[0] + 1e-9 and fast.seconds <= direct[1] + 1e-9
    assert cost.path[0] == "aws:us-east-1" and cost.path[-1] == "gcp:asia-east1-a"
    assert plan_route(grid, "us-east-1", "azure:eastus", 1).path[0] == "aws:us-east-1"  # bare name resolves


def test_route_cli(shared, capsys) -> None:
    argv = ["plan", "route", "--src", "aws:us-east-1", "--dst", "azure:eastus", "--size-gb", "50"]
    assert run([*argv, "--objective", "latency", "--profiles", str(shared), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["path"][0] == "aws:us-east-1" and doc["predicted_seconds"] > 0 and doc["cost_usd"] > 0
    assert run([*argv, "--objective", "nope", "--profiles", str(shared)]) == 2
    assert (
        run(["plan", "route", "--src", "mars", "--dst", "azure:eastus", "--size-gb", "1", "--profiles", str(shared)])
        == 2
    )
    assert "unknown region" in capsys.readouterr().err


def test_egress_tiers() -> None:
    assert calc.egress_cost("aws", 100) == 0.0  # free tier
    assert calc.egress_cost("aws", 1100) == pytest.approx(1000 * 0.09)
    assert calc.egress_cost("gcp", 2048) == pytest.approx(1024 * 0.12 + 1024 * 0.11)
    assert calc.egress_cost("azure", 200) == pytest.approx(100 * 0.087)
    with pytest.raises(ValueError):
        calc.egress_cost("oracle", 1)


def test_cdn_interconnect_and_schedule() -> None:
    r = calc.cdn_vs_direct(5000, geo="US")
    assert r["cdn_usd"] < r["direct_usd"]  # CloudFront's 1 TB free tier beats the 100 GB one
    be = calc.interconnect_breakeven("aws")
    at = be["breakeven_gb"]
    port = be["port_usd_per_month"]
    assert calc.egress_cost("aws", at) == pytest.approx(port + be["per_gb"] * at, rel=1e-6)
    plan = calc.schedule_transfers(
        [calc.Transfer("backup", 30, 0, 4), calc.Transfer("urgent", 10, 0, 1)], [0.05, 0.09, 0.0, 0.01], 20
    )
    assert plan["urgent"] == {0: 10}
    assert plan["backup"] == {2: 20, 3: 10}  # hour 3 ($0.01) before hour 0 ($0.05)
    with pytest.raises(ValueError, match="does not fit"):
        calc.schedule_transfers([calc.Transfer("big", 100, 0, 2)], [0.1, 0.1], 20)


def test_compression_and_delta(tmp_path, capsys) -> None:
    import random

    rnd = random.Random(1)
    text = "".join(rnd.choice(["GET /a 200\n", "PUT /b 201\n", "GET /c 404\n"]) for _ in range(20000)).encode()
    (tmp_path / "s.log").write_bytes(text)
    comp = calc.compression_savings(tmp_path / "s.log", 10000)
    assert comp["ratio"] < 0.5 and comp["saving_usd"] > 0
    old = bytes(rnd.getrandbits(8) for _ in range(200_000))
    new = old[:100_000] + b"inserted bytes" * 50 + old[100_000:]
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    d = calc.delta_savings(tmp_path / "old", tmp_path / "new")
    assert d["send_fraction"] < 0.15  # only chunks around the insertion change
    assert run(["price", "egress", "--cloud", "gcp", "--gb", "2048", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cost_usd"] == pytest.approx(235.52)
    assert run(["price", "compression", "--sample", str(tmp_path / "missing"), "--gb", "1"]) == 2
    assert run(["price", "egress", "--cloud", "oracle", "--gb", "1"]) == 2


def test_route_uses_the_packaged_grid_by_default(capsys):
    from egress_optimizer.cli import run

    assert (
        run(["plan", "route", "--src", "aws:us-east-1", "--dst", "gcp:us-central1-a", "--size-gb", "500", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["path"][0] == "aws:us-east-1" and out["cost_usd"] > 0
