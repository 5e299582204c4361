"""The Terraform lake and log_sources modules agree with the code they serve, checked offline (no terraform, no AWS).

- ``infra/modules/lake/tables.json`` is exactly what ``glue_catalog.render_terraform_tables`` renders from the
  table registry now (a schema change without regenerating it fails here), it holds every registry table, and a
  table built from it the way ``main.tf`` builds ``aws_glue_catalog_table`` is the ``table_input`` the catalog code
  wants (so ``register_lake`` and the ingest find Terraform's tables unchanged and only add partitions).
- The flow log format of ``log_sources`` is the README's field list ("On your own AWS data"), in its order, every
  field in the parser's catalogue, and a Parquet file in that format parses.
- The CUR 2.0 export selects what ``ingest/cur.py`` reads, nothing else, each a CUR 2.0 column.
- The keys AWS writes under the lake module's default prefixes (flow logs with Hive partitions, partitioned S3
  access logs, CloudFront standard logs v2, the CUR 2.0 export) are recognised by the ingest, with the account and
  region it partitions by.
- Both modules have the standard files, document every input and output, and tag what takes tags.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from egress_optimizer import glue_catalog as catalog
from egress_optimizer.formats.vpc_flow import FIELD_VERSION, PARQUET_INT32, PARQUET_INT64, format_version
from egress_optimizer.ingest import cur
from egress_optimizer.ingest.base import QuarantineSink, SourceObject
from egress_optimizer.ingest.cloudfront import distribution_from_key
from egress_optimizer.ingest.objects import BytesBody
from egress_optimizer.ingest.pipeline import _S3_PARTITIONED, detect_source
from egress_optimizer.ingest.vpc_flow import VpcFlowParser, key_account_region
from egress_optimizer.tables import ALL

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 (bc-python-hcl2) parses the modules")

ROOT = Path(__file__).resolve().parents[1]
LAKE = ROOT / "infra" / "modules" / "lake"
LOG_SOURCES = ROOT / "infra" / "modules" / "log_sources"
EXAMPLE = ROOT / "infra" / "envs" / "example"
TABLES_JSON = LAKE / "tables.json"
REGENERATE = catalog.TERRAFORM_COMMAND
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")

ACCOUNT, REGION = "123456789012", "eu-west-1"
LAKE_URI = "s3://egress-lake-123456789012-eu-west-1/lake"

# CUR 2.0's COST_AND_USAGE_REPORT columns (AWS Data Exports table dictionary): what an export may select.
CUR2_COLUMNS = set(
    "bill_bill_type bill_billing_entity bill_billing_period_end_date bill_billing_period_start_date bill_invoice_id "
    "bill_invoicing_entity bill_payer_account_id bill_payer_account_name cost_category discount "
    "discount_bundled_discount discount_total_discount identity_line_item_id identity_time_interval "
    "line_item_availability_zone line_item_blended_cost line_item_blended_rate line_item_currency_code "
    "line_item_legal_entity line_item_line_item_description line_item_line_item_type line_item_net_unblended_cost "
    "line_item_net_unblended_rate line_item_normalization_factor line_item_normalized_usage_amount "
    "line_item_operation line_item_product_code line_item_resource_id line_item_tax_type line_item_unblended_cost "
    "line_item_unblended_rate line_item_usage_account_id line_item_usage_account_name line_item_usage_amount "
    "line_item_usage_end_date line_item_usage_start_date line_item_usage_type pricing_currency "
    "pricing_lease_contract_length pricing_offering_class pricing_public_on_demand_cost "
    "pricing_public_on_demand_rate pricing_purchase_option pricing_rate_code pricing_rate_id pricing_term "
    "pricing_unit product product_comment product_fee_code product_fee_description product_from_location "
    "product_from_location_type product_from_region_code product_instance_family product_instance_type "
    "product_instancesku product_location product_location_type product_operation product_pricing_unit "
    "product_product_family product_region_code product_servicecode product_sku product_to_location "
    "product_to_location_type product_to_region_code product_usagetype resource_tags".split()
)
# Legacy CUR columns the parser reads that CUR 2.0 keeps inside its ``product`` map (key without ``product_``).
IN_PRODUCT_MAP = {"product_transfer_type"}
CUR2_MAPS = {"product", "resource_tags", "cost_category"}

TAGGABLE = {
    "aws_kms_key", "aws_s3_bucket", "aws_glue_catalog_database", "aws_athena_workgroup", "aws_flow_log",
    "aws_cloudwatch_log_delivery_source", "aws_cloudwatch_log_delivery_destination", "aws_cloudwatch_log_delivery",
    "aws_bcmdataexports_export",
}  # fmt: skip


# ---- parsing --------------------------------------------------------------------------------------------------------
def _v(value: Any) -> Any:
    """An attribute's value: python-hcl2 (as installed here) wraps each in a one-element list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@cache
def _parsed(path: Path) -> dict:
    with path.open() as f:
        return hcl2.load(f)


def _blocks(folder: Path, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in _parsed(path).get(kind, []):
            out.update(block)
    return out


def _resources(folder: Path) -> dict[tuple[str, str], dict]:
    return {(t, n): body for t, named in _blocks(folder, "resource").items() for n, body in named.items()}


def _locals(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in _parsed(path).get("locals", []):
            out.update({k: _v(v) for k, v in block.items()})
    return out


def _block(body: dict, name: str) -> dict:
    return _v(body[name])


def _lake_prefixes() -> dict[str, str]:
    """The lake module's default log prefixes (``optional(string, "...")`` in log_prefixes' type)."""
    text = (LAKE / "variables.tf").read_text()
    found = dict(re.findall(r'^\s*(\w+)\s*=\s*optional\(string,\s*"([^"]+)"\)', text, re.M))
    assert set(found) == {"vpc_flow", "cloudfront", "cur", "s3_access", "lake_access"}, found
    return found


# ---- tables.json ----------------------------------------------------------------------------------------------------
def test_committed_tables_json_is_what_the_registry_renders():
    assert TABLES_JSON.exists(), f"{TABLES_JSON.relative_to(ROOT)} is missing; run `{REGENERATE}`"
    assert TABLES_JSON.read_text() == catalog.render_terraform_tables(), (
        f"{TABLES_JSON.relative_to(ROOT)} is stale (the table registry changed); run `{REGENERATE}`"
    )


def test_tables_json_holds_every_registry_table_and_nothing_else():
    tables = json.loads(TABLES_JSON.read_text())["tables"]
    assert sorted(tables) == sorted(t.name for t in ALL)
    for spec in ALL:
        t = tables[spec.name]
        data_columns = [f.name for f in spec.storage_schema if f.name not in spec.partition_by]
        assert [c["name"] for c in t["columns"]] == data_columns
        assert [k["name"] for k in t["partition_keys"]] == list(spec.partition_by)
        assert t["location_suffix"] == f"{spec.name}/"
        assert t["serde"]["serialization_library"] == catalog.SERDE
        assert (t["input_format"], t["output_format"]) == (catalog.INPUT_FORMAT, catalog.OUTPUT_FORMAT)


def _table_input_as_terraform_builds_it(name: str, t: dict, lake_uri: str, projection: bool) -> dict:
    """What infra/modules/lake/main.tf's aws_glue_catalog_table makes of one tables.json entry."""
    placeholder = json.loads(TABLES_JSON.read_text())["lake_location_placeholder"]
    extra = {k: v.replace(placeholder, lake_uri) for k, v in t["projection"].items()} if projection else {}
    return {
        "Name": name,
        "TableType": t["table_type"],
        "Parameters": {**t["parameters"], **extra},
        "PartitionKeys": [{"Name": k["name"], "Type": k["type"]} for k in t["partition_keys"]],
        "StorageDescriptor": {
            "Columns": [{"Name": c["name"], "Type": c["type"]} for c in t["columns"]],
            "Location": f"{lake_uri}/{t['location_suffix']}",
            "InputFormat": t["input_format"],
            "OutputFormat": t["output_format"],
            "SerdeInfo": {
                "SerializationLibrary": t["serde"]["serialization_library"],
                "Parameters": t["serde"]["parameters"],
            },
        },
    }


@pytest.mark.parametrize("projection", [False, True])
def test_terraform_tables_are_the_ones_the_catalog_code_wants(projection):
    tables = json.loads(TABLES_JSON.read_text())["tables"]
    for spec in ALL:
        built = _table_input_as_terraform_builds_it(spec.name, tables[spec.name], LAKE_URI, projection)
        wanted = catalog.table_input(spec.name, spec.storage_schema, f"{LAKE_URI}/{spec.name}", spec.partition_by)
        assert catalog._same_table(built, wanted), spec.name  # ensure_table leaves it alone
        if not projection:
            assert built == wanted, spec.name
            continue
        # The projection is the committed Athena DDL's, pointed at this lake.
        props = built["Parameters"]
        assert props["projection.enabled"] == "true"
        template = LAKE_URI + f"/{spec.name}/" + "".join(f"{k}=${{{k}}}/" for k in spec.partition_by)
        assert props["storage.location.template"] == template


def test_lake_main_tf_creates_the_tables_from_tables_json():
    text = (LAKE / "main.tf").read_text()
    assert 'jsondecode(file("${path.module}/tables.json"))' in text
    resources = _resources(LAKE)
    table = resources[("aws_glue_catalog_table", "this")]
    assert _v(table["for_each"]) == "${local.catalog.tables}"
    assert _v(table["name"]) == "${each.key}"
    storage = _block(table, "storage_descriptor")
    assert _v(storage["location"]) == "${local.lake_uri}/${each.value.location_suffix}"
    serde = _block(storage, "ser_de_info")
    assert _v(serde["serialization_library"]) == "${each.value.serde.serialization_library}"
    assert _v(serde["parameters"]) == "${each.value.serde.parameters}"
    # The lake URI is the one Lake.uri() spells: s3://bucket/prefix, no trailing slash.
    assert _locals(LAKE)["lake_uri"] == "s3://${aws_s3_bucket.curated.bucket}/${var.lake_prefix}"
    # Nothing but the registry spells a table: one for_each resource, no table name in what builds the catalog
    # (variables.tf may: its log prefixes "cloudfront" and "cur" are folders of raw logs, not tables).
    assert [n for t, n in resources if t == "aws_glue_catalog_table"] == ["this"]
    tf_text = "\n".join((LAKE / f).read_text() for f in ("main.tf", "outputs.tf"))
    spelled = sorted(t.name for t in ALL if re.search(rf'"{t.name}[/"]', tf_text))
    assert not spelled, f"the lake module spells registry tables itself: {spelled}"


def test_the_cli_writes_tables_json(tmp_path):
    out = tmp_path / "tables.json"
    catalog.main(["--terraform", str(out)])
    assert out.read_text() == TABLES_JSON.read_text()


# ---- flow logs ------------------------------------------------------------------------------------------------------
def _readme_flow_fields() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## On your own AWS data", 1)[1].split("\n## ", 1)[0]
    block = section.split("**2. Flow-log fields.**", 1)[1].split("```", 2)[1]
    return re.findall(r"\$\{([a-z-]+)\}", block)


def test_flow_log_format_is_the_readmes_fields_in_order():
    fields = _locals(LOG_SOURCES)["flow_log_fields"]
    readme = _readme_flow_fields()
    assert readme, "README's flow-log field list was not found"
    assert fields == readme
    assert all(f in FIELD_VERSION for f in fields)
    assert format_version(fields) == 5  # v3 to v5 fields: packet addresses, zones, direction, path, services
    main = (LOG_SOURCES / "main.tf").read_text()
    assert 'join(" ", [for f in local.flow_log_fields : format("$${%s}", f)])' in main
    flow = _resources(LOG_SOURCES)[("aws_flow_log", "vpc")]
    assert _v(flow["log_format"]) == "${local.flow_log_format}"
    assert _v(flow["log_destination_type"]) == "s3"
    options = _block(flow, "destination_options")
    assert {k: _v(v) for k, v in options.items()} == {
        "file_format": "parquet",
        "hive_compatible_partitions": True,
        "per_hour_partition": True,
    }


def _flow_key(prefix: str) -> str:
    return (
        f"{prefix}/AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region={REGION}/"
        f"year=2026/month=10/day=01/hour=13/{ACCOUNT}_vpcflowlogs_{REGION}_fl-0123456789abcdef0_20261001T1300Z_"
        "1a2b3c4d.log.parquet"
    )


def test_a_parquet_flow_log_in_that_format_parses():
    fields = _locals(LOG_SOURCES)["flow_log_fields"]
    values = {
        "version": 5, "account-id": ACCOUNT, "interface-id": "eni-0123456789abcdef0", "srcaddr": "10.0.1.5",
        "dstaddr": "52.94.0.1", "srcport": 44321, "dstport": 443, "protocol": 6, "packets": 10, "bytes": 8000,
        "start": 1790859600, "end": 1790859660, "action": "ACCEPT", "log-status": "OK", "vpc-id": "vpc-0a1b2c3d",
        "subnet-id": "subnet-0a1b2c3d", "az-id": "euw1-az1", "pkt-srcaddr": "10.0.1.5", "pkt-dstaddr": "52.94.0.1",
        "flow-direction": "egress", "traffic-path": 8, "pkt-src-aws-service": "-", "pkt-dst-aws-service": "S3",
    }  # fmt: skip
    # AWS names the Parquet columns with underscores and types them as formats/vpc_flow.py records.
    columns = {}
    for f in fields:
        kind = pa.int32() if f in PARQUET_INT32 else pa.int64() if f in PARQUET_INT64 else pa.string()
        columns[f.replace("-", "_")] = pa.array([values[f]], kind)
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    key = _flow_key(_lake_prefixes()["vpc_flow"])
    obj = SourceObject(uri=f"s3://raw/{key}", key=key, size=len(buf.getvalue()))
    sink = QuarantineSink("vpc-flow", obj)
    rows = pa.Table.from_batches(list(VpcFlowParser().parse(BytesBody(buf.getvalue()), obj, sink))).to_pylist()
    assert sink.count == 0 and len(rows) == 1
    row = rows[0]
    assert (row["account_id"], row["region"]) == (ACCOUNT, REGION)  # region from the Hive key
    assert (row["pkt_dstaddr"], row["flow_direction"], row["traffic_path"], row["az_id"]) == (
        "52.94.0.1",
        "egress",
        8,
        "euw1-az1",
    )
    assert row["pkt_dst_aws_service"] == "S3" and row["bytes"] == 8000


# ---- the CUR 2.0 export ---------------------------------------------------------------------------------------------
def test_cur_export_selects_what_the_parser_reads():
    selected = _locals(LOG_SOURCES)["cur_columns"]
    assert len(selected) == len(set(selected)), "a column selected twice"
    unknown = sorted(set(selected) - CUR2_COLUMNS)
    assert not unknown, f"not CUR 2.0 columns: {unknown}"
    sources = {*cur._STRING_SOURCES.values(), *cur._NUMBER_SOURCES.values(), *cur._TIME_SOURCES.values()}
    sources.add(cur._BILL_START)
    # transfer_type (and region, region_code's fallback) have no CUR 2.0 column: the parser reads the product map.
    assert cur._PRODUCT_MAP_KEYS["transfer_type"] == "transfer_type"
    assert cur._FALLBACK_MAP_KEYS["region_code"] == "region"
    assert sources >= IN_PRODUCT_MAP
    missing = sorted(sources - IN_PRODUCT_MAP - set(selected))
    assert not missing, f"the CUR parser reads {missing}, which the export does not select"
    assert set(cur._MAP_ROLES) - {"discount"} == CUR2_MAPS <= set(selected)
    assert set(cur._CUR2_ONLY) <= set(selected)  # the account names mark CUR 2.0 (and land in `extra`)
    unread = sorted(set(selected) - sources - CUR2_MAPS - set(cur._CUR2_ONLY))
    assert not unread, f"selected but never read by the parser: {unread}"


def test_cur_export_is_hourly_parquet_with_resources():
    export = _block(_resources(LOG_SOURCES)[("aws_bcmdataexports_export", "cur")], "export")
    query = _block(export, "data_query")
    statement = _v(query["query_statement"])
    assert re.search(r'SELECT \$\{join\(", ", ?local\.cur_columns\)\} FROM COST_AND_USAGE_REPORT', statement), statement
    config = _v(query["table_configurations"])["COST_AND_USAGE_REPORT"]
    assert (config["INCLUDE_RESOURCES"], config["TIME_GRANULARITY"]) == ("TRUE", "HOURLY")
    assert set(config) == {
        "BILLING_VIEW_ARN", "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY", "INCLUDE_RESOURCES",
        "INCLUDE_SPLIT_COST_ALLOCATION_DATA", "TIME_GRANULARITY",
    }  # fmt: skip
    s3 = _block(_block(export, "destination_configurations"), "s3_destination")
    output = _block(s3, "s3_output_configurations")
    assert {k: _v(output[k]) for k in ("overwrite", "format", "compression", "output_type")} == {
        "overwrite": "OVERWRITE_REPORT",
        "format": "PARQUET",
        "compression": "PARQUET",
        "output_type": "CUSTOM",
    }
    assert _v(s3["s3_prefix"]) == "${var.log_prefixes.cur}"


# ---- what lands under the prefixes is recognised by the ingest -------------------------------------------------------
def _detect(key: str, data: bytes = b"") -> tuple[str | None, str]:
    return detect_source(SourceObject(uri=f"s3://bucket/{key}", key=key, size=len(data)), BytesBody(data))


def test_flow_logs_land_where_the_ingest_recognises_them():
    key = _flow_key(_lake_prefixes()["vpc_flow"])
    assert _detect(key) == ("vpc-flow", "key layout")
    assert key_account_region(key) == (ACCOUNT, REGION)


def test_s3_access_logs_land_where_the_ingest_recognises_them():
    logging = _resources(LOG_SOURCES)[("aws_s3_bucket_logging", "source")]
    key_format = _block(_block(logging, "target_object_key_format"), "partitioned_prefix")
    assert _v(key_format["partition_date_source"]) == "EventTime"
    assert _v(logging["target_prefix"]) == "${var.log_prefixes.s3_access}/"
    folder = f"{_lake_prefixes()['s3_access']}/{ACCOUNT}/{REGION}/my-bucket/2026/10/01"
    key = f"{folder}/2026-10-01-00-00-00-0123456789ABCDEF"
    assert _detect(key) == ("s3-access", "key layout")
    match = _S3_PARTITIONED.search(key)
    assert match and match.groups() == (ACCOUNT, REGION)


def test_cloudfront_logs_land_where_the_ingest_recognises_them():
    delivery = _resources(LOG_SOURCES)[("aws_cloudwatch_log_delivery", "cloudfront")]
    s3 = _block(delivery, "s3_delivery_configuration")
    assert _v(s3["suffix_path"]) == "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"
    assert _v(s3["enable_hive_compatible_path"]) is False
    # AWS puts AWSLogs/<account>/CloudFront/ between the destination's prefix and the suffix path.
    folder = f"{_lake_prefixes()['cloudfront']}/AWSLogs/{ACCOUNT}/CloudFront/E1ABCDEF2GHIJK/2026/10/01/13"
    parquet_key = f"{folder}/E1ABCDEF2GHIJK.2026-10-01-13.abcdef01.parquet"
    buf = io.BytesIO()
    row = {"date": ["2026-10-01"], "time": ["13:00:01"], "x_edge_location": ["FRA56-P1"], "sc_bytes": [1200]}
    row |= {"x_edge_request_id": ["abc=="], "x_edge_result_type": ["Hit"]}
    pq.write_table(pa.table(row), buf)
    assert _detect(parquet_key, buf.getvalue()) == ("cloudfront", "parquet schema")
    assert _detect(f"{folder}/E1ABCDEF2GHIJK.2026-10-01-13.abcdef01.gz") == ("cloudfront", "key layout")
    assert distribution_from_key(parquet_key) == "E1ABCDEF2GHIJK"
    assert re.search(r"AWSLogs/(\d{12})/", parquet_key).group(1) == ACCOUNT  # the pipeline's account rule


def test_the_cur_export_lands_where_the_ingest_recognises_it():
    base = f"{_lake_prefixes()['cur']}/egress-cur2"
    assert _detect(f"{base}/data/BILLING_PERIOD=2026-10/egress-cur2-00001.snappy.parquet") == ("cur", "key layout")
    assert _detect(f"{base}/metadata/BILLING_PERIOD=2026-10/egress-cur2-Manifest.json")[0] is None


def test_the_lake_lets_each_service_write_only_under_its_prefix():
    main = (LAKE / "main.tf").read_text()
    for expected in (
        '"${aws_s3_bucket.raw.arn}/${local.prefixes.vpc_flow}/AWSLogs/*"',
        '"${aws_s3_bucket.raw.arn}/${local.prefixes.cloudfront}/AWSLogs/*"',
        '"${aws_s3_bucket.raw.arn}/${local.prefixes.cur}/*"',
        '"${aws_s3_bucket.access_logs.arn}/${local.prefixes.s3_access}/*"',
        '"${aws_s3_bucket.access_logs.arn}/${local.prefixes.lake_access}/*"',
    ):
        assert expected in main, expected
    for name in ("raw", "curated", "access_logs"):
        assert re.search(rf'resource "aws_s3_bucket_policy" "{name}"', main)
    assert main.count('variable = "aws:SecureTransport"') == 3


# ---- module conventions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", [LAKE, LOG_SOURCES], ids=["lake", "log_sources"])
def test_lake_modules_have_the_standard_files_and_document_every_input_and_output(folder):
    missing = [f for f in MODULE_FILES if not (folder / f).exists()]
    assert not missing, f"{folder.relative_to(ROOT)} lacks {missing}"
    readme = (folder / "README.md").read_text()
    names = set(_blocks(folder, "variable")) | set(_blocks(folder, "output"))
    undocumented = sorted(n for n in names if f"`{n}`" not in readme)
    assert not undocumented, f"{folder.relative_to(ROOT)}/README.md does not document {undocumented}"
    versions = (folder / "versions.tf").read_text()
    assert re.search(r'required_version\s*=\s*">= 1\.4"', versions)
    assert re.search(r'version\s*=\s*"~> 5\.(40|83)"', versions)
    assert re.search(r'for k in \["project", "owner", "environment"\]', (folder / "variables.tf").read_text())
    for (rtype, name), body in _resources(folder).items():
        if rtype in TAGGABLE:
            assert _v(body.get("tags")) == "${var.tags}", f"{rtype}.{name} is untagged"


def test_the_example_root_wires_the_lake_and_its_sources():
    modules = _blocks(EXAMPLE, "module")
    assert {"lake", "log_sources"} <= set(modules)
    assert _v(modules["lake"]["source"]) == "../../modules/lake"
    sources = modules["log_sources"]
    assert _v(sources["source"]) == "../../modules/log_sources"
    for name in ("raw_bucket_name", "access_log_bucket_name", "log_prefixes"):
        assert _v(sources[name]) == f"${{module.lake.{name}}}", name
    providers = _v(sources["providers"])
    assert providers.get("aws.us_east_1") == "${aws.us_east_1}", providers
