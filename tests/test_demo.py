"""`egress demo` and `egress generate` end to end through the CLI."""

from __future__ import annotations

import json

from egress_optimizer.cli import run
from egress_optimizer.lake import MARKER, Lake
from egress_optimizer.tables import VPC_FLOW


def test_demo_runs_every_stage(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out), "--days", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (out / "raw" / "labels.json").exists()
    assert (out / "lake" / MARKER).exists()
    assert summary["stages"]["generate"]["files"]["vpc_flow"]["records"] > 0
    ingest = summary["stages"]["ingest"]
    assert set(ingest["by_source"]) == {"vpc-flow", "s3-access", "cloudfront", "cur"}
    totals = ingest["totals"]
    labels = json.loads((out / "raw" / "labels.json").read_text())
    damaged = sum(g.get("records", 0) for g in labels["coverage_gaps"] if g["kind"] == "damaged_delivery")
    assert totals["objects_failed"] == 0 and totals["quarantined"] == damaged == 1  # one mangled record, no more
    assert totals["records_read"] == totals["parsed"] + totals["quarantined"] and totals["parsed"] > 0
    reconciled = summary["stages"]["reconcile"]
    assert reconciled["unexplained_no_reason_pct"] < 0.05  # the README: 0.0 % without a reason on the default
    assert {g["kind"] for g in reconciled["coverage"]["enable_logging"] if g["explains_usd"]} == {"vpc", "bucket"}
    assert len(summary["stages"]["top_resources"]) == 5
    assert "more than" in summary["stages"]["detection"]["skipped"]  # two days are too few to train on
    assert json.loads((out / "demo-summary.json").read_text()) == summary
    page = (out / "report.html").read_text()  # the demo ends with the report (checked in a browser elsewhere)
    assert summary["report"] == str(out / "report.html") and 'id="coverage"' in page and "Savings" in page
    # Run again into the same folder (one day this time): the lake is rebuilt, not mixed with the first run's
    # (nor its detector state): it holds exactly the second run's records; a folder that is not a lake is never
    # deleted.
    (out / "lake" / "left-by-the-first-run").write_text("x")
    assert run(["demo", "--out", str(out), "--days", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert not (out / "lake" / "left-by-the-first-run").exists()
    flows = Lake.open(str(out / "lake"), create=False).read_table(VPC_FLOW).num_rows
    assert (
        flows
        == again["stages"]["ingest"]["by_source"]["vpc-flow"]["parsed"]
        < ingest["by_source"]["vpc-flow"]["parsed"]
    )
    foreign = tmp_path / "mine"
    (foreign / "lake").mkdir(parents=True)
    (foreign / "lake" / "notes.txt").write_text("keep me")
    assert run(["demo", "--out", str(foreign), "--days", "3", "--json"]) != 0
    assert "not a lake written by egress" in capsys.readouterr().err
    assert (foreign / "lake" / "notes.txt").read_text() == "keep me"


def test_generate_json_summary(tmp_path, capsys):
    assert run(["generate", "--out", str(tmp_path / "e"), "--days", "2", "--seed", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounts"] >= 3 and summary["vpcs"] >= 3
    assert set(summary["files"]) == {"vpc_flow", "s3_access", "cloudfront", "cur"}
    assert summary["cur_cost_usd"] > 0


def test_generate_table_output(tmp_path, capsys):
    assert run(["generate", "--out", str(tmp_path / "e"), "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert "Synthetic estate" in out and "Injected incidents" in out


def test_generate_refuses_to_replace_a_folder_it_did_not_write(tmp_path, capsys):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.tex").write_text("do not delete")
    assert run(["generate", "--out", str(keep), "--days", "1"]) == 2
    assert "refusing to replace" in capsys.readouterr().err
    assert (keep / "thesis.tex").read_text() == "do not delete"
