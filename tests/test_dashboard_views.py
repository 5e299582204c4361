"""The QuickSight dashboard's data, checked on local lakes: the planners' savings and the coverage gaps land in the
lake, every view under ``sql/athena/views`` runs on it, the savings and coverage views give back what was recorded
(compared with the planners and the reconciliation called directly), and every dataset of the Terraform module
(``infra/modules/dashboards``) selects from a view this repository ships, with the columns and QuickSight types it
declares; the dashboard's visuals read only columns their dataset has."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from egress_optimizer import stages
from egress_optimizer.lake import Lake
from egress_optimizer.planners.from_lake import Evidence, Recommendation
from egress_optimizer.planners.record import METHODS, write_coverage_gaps, write_savings

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ROOT / "src" / "egress_optimizer" / "sql" / "athena" / "views"
MODULE = ROOT / "infra" / "modules" / "dashboards"
DATASETS = json.loads((MODULE / "datasets.json").read_text())["datasets"]

# DuckDB's type of a view column -> the QuickSight type a dataset declares for it (Athena gives the same classes:
# varchar, bigint, double, date, timestamp).
QUICKSIGHT_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "INTEGER",
    "HUGEINT": "INTEGER",  # DuckDB's sum of a bigint; Athena's is a bigint
    "INTEGER": "INTEGER",
    "DOUBLE": "DECIMAL",
    "DATE": "DATETIME",
    "TIMESTAMP": "DATETIME",
    "TIMESTAMP WITH TIME ZONE": "DATETIME",
}


def _with_views(lake: Lake) -> duckdb.DuckDBPyConnection:
    """The lake's tables (empty where nothing was written) and every view file, as Athena would have them."""
    con = lake.connect(empty=True)
    for path in sorted(VIEWS.glob("*.sql")):
        con.execute(path.read_text())
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    return con.sql(sql).to_arrow_table().to_pylist()  # through Arrow: time zones without pytz


# ---- recorded on the shared estate, read back through the views -------------------------------------------------
def test_savings_and_coverage_views_return_what_was_recorded(lake_copy):
    lake = Lake.open(str(lake_copy), create=False)
    recorded = stages.record_savings(lake)
    coverage = stages.reconcile(lake).coverage
    assert stages.record_coverage_gaps(lake, coverage) == len(coverage["enable_logging"])

    con = _with_views(lake)
    for path in sorted(VIEWS.glob("*.sql")):  # every view runs on this lake
        con.sql(f"SELECT * FROM {path.stem}").to_arrow_table()

    oracle = recorded  # what the planners returned (recommend, called by record_savings), before it was stored
    assert oracle, "the shared estate has savings to find"
    savings = _rows(con, "SELECT * FROM v_planner_savings")
    assert len({r["generated_at"] for r in savings}) == 1

    def key(account, region, kind, title):
        return (account or "", region or "", kind, title)

    got = {key(r["account_id"], r["region"], r["kind"], r["title"]): r for r in savings}
    want = {key(r.account, r.region, r.kind, r.title): r for r in oracle}
    assert set(got) == set(want)
    for k, rec in want.items():
        row = got[k]
        assert row["current_monthly_usd"] == pytest.approx(rec.current_monthly_usd)
        assert row["proposed_monthly_usd"] == pytest.approx(rec.proposed_monthly_usd)
        assert row["monthly_savings_usd"] == pytest.approx(rec.current_monthly_usd - rec.proposed_monthly_usd)
        assert row["confidence"] == rec.confidence
        assert row["method"] == METHODS[rec.kind]  # every kind the planners produce has words

    gaps = _rows(con, "SELECT * FROM v_coverage_gaps")
    got_gaps = {(g["kind"], g["resource"]): g for g in gaps}
    want_gaps = {(g["kind"], g["resource"]): g for g in coverage["enable_logging"]}
    assert want_gaps, "the shared estate has unlogged resources"
    assert set(got_gaps) == set(want_gaps)
    for k, g in want_gaps.items():
        assert got_gaps[k]["enable"] == g["enable"]
        assert got_gaps[k]["account_id"] == g["account"] and got_gaps[k]["region"] == g["region"]
        assert got_gaps[k]["explains_usd"] == pytest.approx(g["explains_usd"])
        assert got_gaps[k]["explains_usd_per_month"] == pytest.approx(g["explains_usd_per_month"])

    # what the coverage sheet's share is made of: the coverage view adds up to the reconciliation
    billed = con.execute("SELECT sum(billed_usd) FROM v_coverage_daily").fetchone()[0]
    assert billed == pytest.approx(coverage["billed_usd"], abs=0.01)


def _rec(account: str, region: str, kind: str, title: str, current: float, proposed: float) -> Recommendation:
    evidence = Evidence([title], 1, "2026-10-01T00:00:00+00:00", "2026-10-08T00:00:00+00:00", 7.0, current / 4)
    return Recommendation(kind, title, account, region, "test planner", current, proposed, evidence)


def test_the_views_show_the_latest_run_even_when_it_found_nothing(tmp_path):
    """A run covers the whole lake: the views show its rows only, and a run that found nothing shows nothing
    (it writes one row of kind ``none``, which the views skip), not the last run that found something."""
    lake = Lake.open(str(tmp_path / "lake"))
    first, second = datetime(2026, 10, 1, 6, tzinfo=UTC), datetime(2026, 10, 2, 6, tzinfo=UTC)
    write_savings(
        lake,
        [
            _rec("111111111111", "us-east-1", "cloudfront", "old A", 100.0, 60.0),
            _rec("222222222222", "eu-west-1", "gateway-endpoint", "only B", 50.0, 0.0),
        ],
        at=first,
    )
    write_savings(lake, [_rec("111111111111", "us-east-1", "az-affinity", "new A", 80.0, 0.0)], at=second)
    gap = {"kind": "vpc", "account": "111111111111", "region": "us-east-1", "enable": "VPC flow logs"}
    write_coverage_gaps(lake, [{**gap, "resource": "vpc-1", "explains_usd": 5, "explains_usd_per_month": 20}], first)
    write_coverage_gaps(lake, [{**gap, "resource": "vpc-2", "explains_usd": 1.5, "explains_usd_per_month": 6}], second)

    con = _with_views(lake)
    savings = _rows(con, "SELECT title, generated_at, monthly_savings_usd, method FROM v_planner_savings ORDER BY 1")
    assert [(r["title"], r["monthly_savings_usd"], r["generated_at"]) for r in savings] == [("new A", 80.0, second)]
    assert savings[0]["method"] == METHODS["az-affinity"]
    gaps = _rows(con, "SELECT resource, explains_usd_per_month FROM v_coverage_gaps")
    assert gaps == [{"resource": "vpc-2", "explains_usd_per_month": 6.0}]

    later = second + timedelta(hours=1)
    assert write_savings(lake, [], at=later) == 0 and write_coverage_gaps(lake, [], at=later) == 0
    con = _with_views(lake)
    assert _rows(con, "SELECT * FROM v_planner_savings") == [] and _rows(con, "SELECT * FROM v_coverage_gaps") == []
    with pytest.raises(ValueError):
        write_savings(lake, [], at=datetime(2026, 10, 3))  # naive times would land in the wrong day


# ---- the Terraform module's datasets and dashboard ----------------------------------------------------------------
def test_every_dataset_selects_a_shipped_view_with_its_declared_columns(features_lake):
    """Each dataset's SQL (as the module renders it, the database being DuckDB's ``main`` here) runs on the shared
    lake; its FROM names a view file; its columns and their types are the ones the dataset declares."""
    main_tf = (MODULE / "main.tf").read_text()
    assert 'jsondecode(file("${path.module}/datasets.json")).datasets' in main_tf
    assert 'replace(each.value.sql, "{database}", var.athena_database)' in main_tf
    assert 'import_mode    = "SPICE"' in main_tf

    con = _with_views(Lake.open(str(features_lake), create=False))  # reads only: nothing is written
    shipped = {p.stem for p in VIEWS.glob("*.sql")}
    assert len(DATASETS) == 7
    for key, dataset in DATASETS.items():
        (view,) = re.findall(r'\bFROM\s+"\{database\}"\."(\w+)"', dataset["sql"], re.IGNORECASE)
        assert view == dataset["view"] and view in shipped, key
        assert f"CREATE OR REPLACE VIEW {view} AS" in (VIEWS / f"{view}.sql").read_text()
        described = con.execute(f"DESCRIBE {dataset['sql'].replace('{database}', 'main')}").fetchall()
        got = [(name, QUICKSIGHT_TYPES[str(kind)]) for name, kind, *_ in described]
        assert got == [(c["name"], c["type"]) for c in dataset["columns"]], key


def test_the_dashboard_reads_only_declared_columns_and_lays_out_every_visual():
    """No terraform binary here: the dashboard's definition is checked against datasets.json by reading the HCL."""
    tf = (MODULE / "dashboard.tf").read_text()
    columns = {k: {c["name"] for c in d["columns"]} for k, d in DATASETS.items()}
    calc = r'calculated_fields \{\s+data_set_identifier = "(\w+)"\s+name\s+= "(\w+)"\s+expression\s+= "(.+)"'
    calculated = re.findall(calc, tf)
    assert calculated
    for data_set, name, expression in calculated:  # a calculated field reads its dataset's columns
        assert set(re.findall(r"\{(\w+)\}", expression)) <= columns[data_set], name
        columns[data_set].add(name)

    literal = re.findall(r'data_set_identifier\s*=\s*"(\w+)"\s+column_name\s*=\s*"(\w+)"', tf)
    assert len(literal) > 10
    for data_set, column in literal:
        assert column in columns[data_set], (data_set, column)
    dimensions = re.search(r"overview_dimensions = \{(.*?)\}", tf, re.DOTALL).group(1)
    assert set(re.findall(r"^\s*(\w+)\s*=", dimensions, re.MULTILINE)) <= columns["egress_daily"]
    measures = re.search(r"coverage_measures = \[(.*?)\]", tf).group(1)
    assert set(re.findall(r'"(\w+)"', measures)) <= columns["coverage_daily"]
    tables = dict(
        (name, (data_set, re.findall(r'"(\w+)"', listed)))
        for name, data_set, listed in re.findall(
            r'^\s*(\w+)\s*=\s*\{\s*data_set\s*=\s*"(\w+)",\s*columns\s*=\s*\[([^\]]*)\]\s*\}', tf, re.MULTILINE
        )
    )
    assert set(tables) == {"talkers", "gaps", "incidents", "remediation", "savings"}
    for name, (data_set, listed) in tables.items():
        assert set(listed) <= columns[data_set], name

    # every dataset is declared to the dashboard, and six sheets
    assert "for_each = aws_quicksight_data_set.this" in tf
    assert re.findall(r'sheet_id = "([\w-]+)"', tf) == [
        "overview", "top-talkers", "coverage", "anomalies", "remediation", "savings",
    ]  # fmt: skip

    # layout elements are exactly the visuals and text boxes; every sort names a field a field well defines
    overview = {"overview-by-" + k.replace("_", "-") for k in re.findall(r"^\s*(\w+)\s*=", dimensions, re.MULTILINE)}
    shown = set(re.findall(r'(?:visual_id|sheet_text_box_id)\s*=\s*"([\w-]+)"', tf)) | overview
    laid_out = set(re.findall(r'element_id\s*=\s*"([\w-]+)"', tf)) | overview
    assert shown == laid_out
    sorted_by = re.findall(r'field_sort \{\s+field_id\s*=\s*"([\w.-]+)"', tf)
    assert len(sorted_by) == 6
    in_wells = Counter(re.findall(r'field_id\s*=\s*"([\w.-]+)"', tf)) - Counter(sorted_by)  # literal field ids
    dynamic_fields = r'for_each = local\.tables\.(\w+)\.columns\s+content \{\s+field_id = "([\w-]+)\.'
    for name, prefix in re.findall(dynamic_fields, tf):
        in_wells.update(f"{prefix}.{c}" for c in tables[name][1])
    assert all(in_wells[f] for f in sorted_by), sorted_by


def test_the_dashboard_ignores_its_normalised_definition_and_is_replaced_on_real_changes():
    tf = (MODULE / "dashboard.tf").read_text()
    lifecycle = re.search(r"lifecycle \{(.*?)\n  \}", tf, re.DOTALL).group(1)
    assert re.search(r"ignore_changes\s*=\s*\[definition\]", lifecycle)
    assert re.search(r"replace_triggered_by\s*=\s*\[terraform_data\.dashboard_definition\]", lifecycle)
    assert 'filesha256("${path.module}/dashboard.tf")' in tf
    assert "aws_quicksight_dashboard" not in (MODULE / "main.tf").read_text()  # main.tf edits leave it alone
