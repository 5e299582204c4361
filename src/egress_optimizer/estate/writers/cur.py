"""Write the bill: a CUR 2.0 (Data Exports) Parquet export with its manifest for the whole organisation,
and a legacy CUR (CSV, slash-style column names) for one member account."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from egress_optimizer.estate.topology import Estate
from egress_optimizer.estate.writers.files import stable_hex, write_bytes, write_gzip
from egress_optimizer.regions import REGIONS

PRODUCT_NAMES = {
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AWSELB": "Elastic Load Balancing",
    "AmazonS3": "Amazon Simple Storage Service",
    "AmazonVPC": "Amazon Virtual Private Cloud",
    "AmazonCloudFront": "Amazon CloudFront",
    "AmazonRDS": "Amazon Relational Database Service",
    "AmazonApiGateway": "Amazon API Gateway",
    "AWSLambda": "AWS Lambda",
}
CLOUDFRONT_GEO_NAMES = {
    "US": "United States",
    "CA": "Canada",
    "EU": "Europe",
    "JP": "Japan",
    "AP": "Asia Pacific",
    "AU": "Australia",
    "IN": "India",
    "SA": "South America",
    "ME": "Middle East",
    "ZA": "South Africa",
}

# CUR 2.0 columns (the standard table's default selection) and their Arrow types.
_STRING = pa.string()
_TS = pa.timestamp("ms")
_MAP = pa.map_(pa.string(), pa.string())
CUR2_COLUMNS: dict[str, pa.DataType] = {
    "bill_bill_type": _STRING,
    "bill_billing_entity": _STRING,
    "bill_billing_period_end_date": _TS,
    "bill_billing_period_start_date": _TS,
    "bill_invoice_id": _STRING,
    "bill_invoicing_entity": _STRING,
    "bill_payer_account_id": _STRING,
    "bill_payer_account_name": _STRING,
    "cost_category": _MAP,
    "discount": pa.map_(pa.string(), pa.float64()),
    "discount_bundled_discount": pa.float64(),
    "discount_total_discount": pa.float64(),
    "identity_line_item_id": _STRING,
    "identity_time_interval": _STRING,
    "line_item_availability_zone": _STRING,
    "line_item_blended_cost": pa.float64(),
    "line_item_blended_rate": _STRING,
    "line_item_currency_code": _STRING,
    "line_item_legal_entity": _STRING,
    "line_item_line_item_description": _STRING,
    "line_item_line_item_type": _STRING,
    "line_item_net_unblended_cost": pa.float64(),
    "line_item_net_unblended_rate": _STRING,
    "line_item_normalization_factor": pa.float64(),
    "line_item_normalized_usage_amount": pa.float64(),
    "line_item_operation": _STRING,
    "line_item_product_code": _STRING,
    "line_item_resource_id": _STRING,
    "line_item_tax_type": _STRING,
    "line_item_unblended_cost": pa.float64(),
    "line_item_unblended_rate": _STRING,
    "line_item_usage_account_id": _STRING,
    "line_item_usage_account_name": _STRING,
    "line_item_usage_amount": pa.float64(),
    "line_item_usage_end_date": _TS,
    "line_item_usage_start_date": _TS,
    "line_item_usage_type": _STRING,
    "pricing_currency": _STRING,
    "pricing_lease_contract_length": _STRING,
    "pricing_offering_class": _STRING,
    "pricing_public_on_demand_cost": pa.float64(),
    "pricing_public_on_demand_rate": _STRING,
    "pricing_purchase_option": _STRING,
    "pricing_rate_code": _STRING,
    "pricing_rate_id": _STRING,
    "pricing_term": _STRING,
    "pricing_unit": _STRING,
    "product": _MAP,
    "product_comment": _STRING,
    "product_fee_code": _STRING,
    "product_fee_description": _STRING,
    "product_from_location": _STRING,
    "product_from_location_type": _STRING,
    "product_from_region_code": _STRING,
    "product_instance_family": _STRING,
    "product_instance_type": _STRING,
    "product_instancesku": _STRING,
    "product_location": _STRING,
    "product_location_type": _STRING,
    "product_operation": _STRING,
    "product_pricing_unit": _STRING,
    "product_product_family": _STRING,
    "product_region_code": _STRING,
    "product_servicecode": _STRING,
    "product_sku": _STRING,
    "product_to_location": _STRING,
    "product_to_location_type": _STRING,
    "product_to_region_code": _STRING,
    "product_usagetype": _STRING,
    "reservation_amortized_upfront_cost_for_usage": pa.float64(),
    "reservation_amortized_upfront_fee_for_billing_period": pa.float64(),
    "reservation_availability_zone": _STRING,
    "reservation_effective_cost": pa.float64(),
    "reservation_end_time": _STRING,
    "reservation_modification_status": _STRING,
    "reservation_net_effective_cost": pa.float64(),
    "reservation_normalized_units_per_reservation": _STRING,
    "reservation_number_of_reservations": _STRING,
    "reservation_recurring_fee_for_usage": pa.float64(),
    "reservation_reservation_a_r_n": _STRING,
    "reservation_start_time": _STRING,
    "reservation_subscription_id": _STRING,
    "reservation_total_reserved_units": _STRING,
    "reservation_unused_quantity": pa.float64(),
    "reservation_unused_recurring_fee": pa.float64(),
    "resource_tags": _MAP,
    "savings_plan_amortized_upfront_commitment_for_billing_period": pa.float64(),
    "savings_plan_end_time": _STRING,
    "savings_plan_offering_type": _STRING,
    "savings_plan_payment_option": _STRING,
    "savings_plan_purchase_term": _STRING,
    "savings_plan_recurring_commitment_for_billing_period": pa.float64(),
    "savings_plan_region": _STRING,
    "savings_plan_savings_plan_a_r_n": _STRING,
    "savings_plan_savings_plan_effective_cost": pa.float64(),
    "savings_plan_savings_plan_rate": pa.float64(),
    "savings_plan_start_time": _STRING,
    "savings_plan_total_commitment_to_date": pa.float64(),
    "savings_plan_used_commitment": pa.float64(),
}

LEGACY_COLUMNS = {
    "identity/LineItemId": "identity_line_item_id",
    "identity/TimeInterval": "identity_time_interval",
    "bill/InvoiceId": "bill_invoice_id",
    "bill/InvoicingEntity": "bill_invoicing_entity",
    "bill/BillingEntity": "bill_billing_entity",
    "bill/BillType": "bill_bill_type",
    "bill/PayerAccountId": "bill_payer_account_id",
    "bill/BillingPeriodStartDate": "bill_billing_period_start_date",
    "bill/BillingPeriodEndDate": "bill_billing_period_end_date",
    "lineItem/UsageAccountId": "line_item_usage_account_id",
    "lineItem/LineItemType": "line_item_line_item_type",
    "lineItem/UsageStartDate": "line_item_usage_start_date",
    "lineItem/UsageEndDate": "line_item_usage_end_date",
    "lineItem/ProductCode": "line_item_product_code",
    "lineItem/UsageType": "line_item_usage_type",
    "lineItem/Operation": "line_item_operation",
    "lineItem/AvailabilityZone": "line_item_availability_zone",
    "lineItem/ResourceId": "line_item_resource_id",
    "lineItem/UsageAmount": "line_item_usage_amount",
    "lineItem/NormalizationFactor": "line_item_normalization_factor",
    "lineItem/NormalizedUsageAmount": "line_item_normalized_usage_amount",
    "lineItem/CurrencyCode": "line_item_currency_code",
    "lineItem/UnblendedRate": "line_item_unblended_rate",
    "lineItem/UnblendedCost": "line_item_unblended_cost",
    "lineItem/BlendedRate": "line_item_blended_rate",
    "lineItem/BlendedCost": "line_item_blended_cost",
    "lineItem/LineItemDescription": "line_item_line_item_description",
    "lineItem/TaxType": "line_item_tax_type",
    "lineItem/LegalEntity": "line_item_legal_entity",
    "product/ProductName": "product:product_name",
    "product/fromLocation": "product_from_location",
    "product/fromLocationType": "product_from_location_type",
    "product/fromRegionCode": "product_from_region_code",
    "product/group": "product:group",
    "product/location": "product_location",
    "product/locationType": "product_location_type",
    "product/operation": "product_operation",
    "product/productFamily": "product_product_family",
    "product/region": "product:region",
    "product/regionCode": "product_region_code",
    "product/servicecode": "product_servicecode",
    "product/servicename": "product:servicename",
    "product/sku": "product_sku",
    "product/toLocation": "product_to_location",
    "product/toLocationType": "product_to_location_type",
    "product/toRegionCode": "product_to_region_code",
    "product/transferType": "product:transfer_type",
    "product/usagetype": "product_usagetype",
    "pricing/RateCode": "pricing_rate_code",
    "pricing/RateId": "pricing_rate_id",
    "pricing/currency": "pricing_currency",
    "pricing/publicOnDemandCost": "pricing_public_on_demand_cost",
    "pricing/publicOnDemandRate": "pricing_public_on_demand_rate",
    "pricing/term": "pricing_term",
    "pricing/unit": "pricing_unit",
}
TAG_KEYS = ["owner", "team", "app", "env"]


def _line_item_id(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=")[:51]


def _describe(r: pd.Series) -> tuple[str, str, str, str]:
    """(description, product family, transfer type, product group) for a line item, as AWS words them."""
    ut, rate = r.usage_type, r.rate
    if ut.endswith("DataTransfer-Out-Bytes") and r["product"] == "AmazonCloudFront":
        geo = ut.split("-", 1)[0]
        return (
            f"${rate:g} per GB - data transfer out ({CLOUDFRONT_GEO_NAMES.get(geo, geo)})",
            "Data Transfer",
            "CloudFront Outbound",
            "",
        )
    if ut.endswith("DataTransfer-Out-Bytes"):
        if rate == 0:
            return (
                "$0.00 per GB - data transfer out under the monthly global free tier",
                "Data Transfer",
                "AWS Outbound",
                "",
            )
        return (
            f"${rate:g} per GB - data transfer out beyond the global free tier",
            "Data Transfer",
            "AWS Outbound",
            "",
        )
    if ut.endswith("DataTransfer-In-Bytes"):
        return ("$0.00 per GB - data transfer in per month", "Data Transfer", "AWS Inbound", "")
    if ut.endswith("Regional-Bytes"):
        return (
            f"${rate:g} per GB - regional data transfer - in/out/between EC2 AZs or using elastic IPs or ELB",
            "Data Transfer",
            "IntraRegion",
            "",
        )
    if ut.endswith("AWS-Out-Bytes"):
        return (
            f"${rate:g} per GB - {REGIONS[r.region].name} data transfer to {REGIONS[r.to_region].name}"
            if r.to_region in REGIONS
            else f"${rate:g} per GB - inter-region data transfer out",
            "Data Transfer",
            "InterRegion Outbound",
            "",
        )
    if ut.endswith("AWS-In-Bytes"):
        return ("$0.00 per GB - inter-region data transfer in", "Data Transfer", "InterRegion Inbound", "")
    if ut.endswith("CloudFront-Out-Bytes"):
        return ("$0.00 per GB - data transfer out to CloudFront", "Data Transfer", "CloudFront Outbound", "")
    if "NatGateway-Bytes" in ut:
        return (f"${rate:g} per GB Data Processed by NAT Gateways", "NAT Gateway", "", "NGW:NatGateway")
    if "NatGateway-Hours" in ut:
        return (f"${rate:g} per NAT Gateway Hour", "NAT Gateway", "", "NGW:NatGateway")
    if "VpcEndpoint" in ut:
        return (
            f"${rate:g} per {'GB Data Processed' if ut.endswith('Bytes') else 'VPC Endpoint Hour'}",
            "VpcEndpoint",
            "",
            "",
        )
    if "Requests" in ut:
        return (f"${rate * 1000:g} per 1,000 requests", "API Request", "", "")
    if "BoxUsage" in ut:
        return (f"${rate:g} per On Demand Linux {ut.split(':', 1)[1]} Instance Hour", "Compute Instance", "", "")
    return (f"${rate:g} per {r.unit}", "Load Balancer-Application", "", "")


def cur2_frame(
    estate: Estate, items: pd.DataFrame, start_epoch: int, tags: dict[str, dict[str, str]], az_of: dict[str, str]
) -> pd.DataFrame:
    """CUR 2.0 rows (one per line item) as a DataFrame with CUR 2.0 column names."""
    names = {a.id: a.name for a in estate.accounts}
    start = pd.to_datetime(start_epoch + items.hour.to_numpy() * 3600, unit="s")
    end = start + pd.Timedelta(hours=1)
    period_start = start.to_period("M").to_timestamp()
    period_end = (start.to_period("M") + 1).to_timestamp()
    # Descriptions depend only on a few columns: word each distinct combination once.
    dkeys = ["usage_type", "rate", "product", "region", "to_region", "unit"]
    uniq = items[dkeys].drop_duplicates().reset_index(drop=True)
    words = pd.DataFrame(
        [_describe(r) for _, r in uniq.iterrows()], columns=["description", "family", "transfer_type", "group"]
    )
    desc = items[dkeys].merge(pd.concat([uniq, words], axis=1), on=dkeys, how="left")[list(words.columns)]
    desc.index = items.index
    region_name = items.region.map(lambda r: REGIONS[r].name if r in REGIONS else "Global")
    to_name = items.to_region.map(lambda r: REGIONS[r].name if r in REGIONS else "")
    is_dt = desc.family == "Data Transfer"
    product_map = [
        [
            ("product_name", PRODUCT_NAMES[p]),
            ("servicename", "AWS Data Transfer" if dt else PRODUCT_NAMES[p]),
            ("region", reg if reg != "global" else ""),
            ("transfer_type", tt),
            ("group", gr),
        ]
        for p, dt, reg, tt, gr in zip(
            items["product"], is_dt, items.region, desc.transfer_type, desc.group, strict=True
        )
    ]
    rate_str = items.rate.map(lambda x: f"{x:.10g}")
    tier = items.tier.fillna(-2).astype(int).astype(str)
    df = pd.DataFrame(
        {
            "bill_bill_type": "Anniversary",
            "bill_billing_entity": "AWS",
            "bill_billing_period_end_date": period_end,
            "bill_billing_period_start_date": period_start,
            "bill_invoice_id": None,
            "bill_invoicing_entity": "Amazon Web Services, Inc.",
            "bill_payer_account_id": estate.payer.id,
            "bill_payer_account_name": estate.payer.name,
            "identity_line_item_id": [
                _line_item_id(*t)
                for t in zip(
                    items.hour, items.account, items.usage_type, items.resource_id, items.operation, tier, strict=True
                )
            ],
            "identity_time_interval": [
                f"{s:%Y-%m-%dT%H:%M:%SZ}/{e:%Y-%m-%dT%H:%M:%SZ}" for s, e in zip(start, end, strict=True)
            ],
            "line_item_availability_zone": items.resource_id.map(lambda x: az_of.get(x, "")),
            "line_item_blended_cost": items.cost,
            "line_item_blended_rate": rate_str,
            "line_item_currency_code": "USD",
            "line_item_legal_entity": "Amazon Web Services, Inc.",
            "line_item_line_item_description": desc.description,
            "line_item_line_item_type": "Usage",
            "line_item_operation": items.operation,
            "line_item_product_code": items["product"],
            "line_item_resource_id": items.resource_id,
            "line_item_tax_type": "",
            "line_item_unblended_cost": items.cost,
            "line_item_unblended_rate": rate_str,
            "line_item_usage_account_id": items.account,
            "line_item_usage_account_name": items.account.map(names),
            "line_item_usage_amount": items.amount,
            "line_item_usage_end_date": end,
            "line_item_usage_start_date": start,
            "line_item_usage_type": items.usage_type,
            "pricing_currency": "USD",
            "pricing_public_on_demand_cost": items.cost,
            "pricing_public_on_demand_rate": rate_str,
            "pricing_rate_code": [
                f"{stable_hex('sku', u, n=16).upper()}.JRTCKXETXF.{stable_hex('rate', u, t, n=10).upper()}"
                for u, t in zip(items.usage_type, tier, strict=True)
            ],
            "pricing_rate_id": [
                str(int(stable_hex("rateid", u, t, n=8), 16)) for u, t in zip(items.usage_type, tier, strict=True)
            ],
            "pricing_term": "OnDemand",
            "pricing_unit": items.unit,
            "product": product_map,
            "product_from_location": np.where(is_dt, region_name, ""),
            "product_from_location_type": np.where(is_dt, np.where(items.region == "global", "", "AWS Region"), ""),
            "product_from_region_code": np.where(is_dt, items.region.replace("global", ""), ""),
            "product_location": np.where(is_dt, "", region_name),
            "product_location_type": np.where(items.region == "global", "", "AWS Region"),
            "product_operation": items.operation,
            "product_pricing_unit": items.unit,
            "product_product_family": desc.family,
            "product_region_code": items.region.replace("global", ""),
            "product_servicecode": np.where(is_dt, "AWSDataTransfer", items["product"]),
            "product_sku": items.usage_type.map(lambda u: stable_hex("sku", u, n=16).upper()),
            "product_to_location": np.where(
                is_dt,
                np.where(
                    items.to_region != "", to_name, np.where(items.usage_type.str.contains("Out-Bytes"), "External", "")
                ),
                "",
            ),
            "product_to_location_type": np.where(
                is_dt & (items.to_region != ""), "AWS Region", np.where(is_dt, "Other", "")
            ),
            "product_to_region_code": np.where(is_dt, items.to_region, ""),
            "product_usagetype": items.usage_type,
            "resource_tags": [
                list({f"user_{k}": v for k, v in tags.get(r, {}).items()}.items()) for r in items.resource_id
            ],
            "cost_category": [
                [("cost_center", {"prod-web": "CC-1001", "prod-data": "CC-2002", "prod-platform": "CC-3003"}[names[a]])]
                for a in items.account
            ],
            "discount": [[] for _ in range(len(items))],
        }
    )
    for c in CUR2_COLUMNS:
        if c not in df:
            df[c] = None
    return df[list(CUR2_COLUMNS)]


def apply_discounts(cur: pd.DataFrame, edp_rate: float, credits_usd: dict[str, float]) -> pd.DataFrame:
    """The bill as an enterprise customer receives it: usage at list price with its net cost beside it, one
    ``EdpDiscount`` line per account, region, usage type and day (negative; its net cost is 0, the usage lines'
    net already carries it), and a monthly ``Credit`` line per account (negative list and net, no usage type).
    Costs are rounded to 10 decimal places, as the CUR prints them."""
    cur = cur.copy()
    cur["line_item_unblended_cost"] = cur.line_item_unblended_cost.round(10)
    cur["line_item_blended_cost"] = cur.line_item_unblended_cost
    cur["line_item_net_unblended_cost"] = (cur.line_item_unblended_cost * (1 - edp_rate)).round(10)
    cur["line_item_net_unblended_rate"] = cur.line_item_unblended_rate
    cur["discount_total_discount"] = cur.line_item_net_unblended_cost - cur.line_item_unblended_cost
    day = cur.line_item_usage_start_date.dt.floor("D")
    keys = ["line_item_usage_account_id", "product_region_code", "line_item_usage_type", "line_item_product_code"]
    priced = cur[cur.line_item_unblended_cost > 0]
    agg = (
        priced.assign(day=day[priced.index], row=priced.index)
        .groupby(["day", *keys], sort=True)
        .agg(cost=("line_item_unblended_cost", "sum"), row=("row", "first"))
    )
    daily_cost = agg.cost.to_numpy()
    disc = priced.loc[agg.row.to_numpy()].copy()
    disc["line_item_line_item_type"] = "EdpDiscount"
    disc["line_item_usage_start_date"] = disc.line_item_usage_start_date.dt.floor("D")
    disc["line_item_usage_end_date"] = disc.line_item_usage_start_date + pd.Timedelta(days=1)
    disc["identity_time_interval"] = [
        f"{s:%Y-%m-%dT%H:%M:%SZ}/{e:%Y-%m-%dT%H:%M:%SZ}"
        for s, e in zip(disc.line_item_usage_start_date, disc.line_item_usage_end_date, strict=True)
    ]
    disc["identity_line_item_id"] = [_line_item_id("edp", i) for i in disc.identity_line_item_id]
    disc["line_item_resource_id"] = ""
    disc["line_item_usage_amount"] = 0.0
    disc["line_item_unblended_cost"] = -(daily_cost * edp_rate).round(10)
    disc["line_item_blended_cost"] = disc.line_item_unblended_cost
    disc["line_item_net_unblended_cost"] = 0.0
    disc["discount_total_discount"] = 0.0
    disc["pricing_public_on_demand_cost"] = 0.0
    disc["line_item_line_item_description"] = f"Enterprise Discount Program discount ({edp_rate:.0%})"
    rows = [cur, disc]
    for account, usd in credits_usd.items():
        mine = cur[cur.line_item_usage_account_id == account]
        for period, part in mine.groupby(mine.bill_billing_period_start_date, sort=True):
            credit = part.head(1).copy()
            credit["line_item_line_item_type"] = "Credit"
            credit["identity_line_item_id"] = _line_item_id("credit", account, period)
            credit["line_item_usage_type"] = ""
            credit["product_usagetype"] = ""
            credit["line_item_operation"] = ""
            credit["line_item_resource_id"] = ""
            credit["line_item_usage_amount"] = 0.0
            credit["line_item_unblended_cost"] = -usd
            credit["line_item_blended_cost"] = -usd
            credit["line_item_net_unblended_cost"] = -usd
            credit["pricing_public_on_demand_cost"] = 0.0
            credit["discount_total_discount"] = 0.0
            for rate in ("line_item_unblended_rate", "line_item_blended_rate", "line_item_net_unblended_rate"):
                credit[rate] = ""
            credit["line_item_line_item_description"] = "AWS promotional credit"
            rows.append(credit)
    return pd.concat(rows, ignore_index=True)


def write_cur2(out: Path, estate: Estate, cur: pd.DataFrame, rows_per_file: int = 400_000) -> list[str]:
    """``<bucket>/<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-0000N.snappy.parquet`` + manifest."""
    bucket, prefix, export = f"cur-exports-{estate.payer.id}", "cur2", "org-cur2-hourly"
    schema = pa.schema([(c, t) for c, t in CUR2_COLUMNS.items()])
    keys = []
    periods = cur.bill_billing_period_start_date.dt.strftime("%Y-%m")
    for period in sorted(periods.unique()):
        part = cur[periods == period].reset_index(drop=True)
        data_files = []
        for i, lo in enumerate(range(0, len(part), rows_per_file)):
            table = pa.Table.from_pandas(part.iloc[lo : lo + rows_per_file], schema=schema, preserve_index=False)
            key = f"{prefix}/{export}/data/BILLING_PERIOD={period}/{export}-{i + 1:05d}.snappy.parquet"
            buf = io.BytesIO()
            pq.write_table(table, buf, compression="snappy")
            write_bytes(out / bucket / key, buf.getvalue())
            data_files.append(f"s3://{bucket}/{key}")
            keys.append(key)
        execution = stable_hex("exec", estate.seed, period, n=32)
        manifest = {
            "executionId": f"{execution[:8]}-{execution[8:12]}-{execution[12:16]}-{execution[16:20]}-{execution[20:]}",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{estate.payer.id}:export/{export}-"
            f"{stable_hex('arn', estate.seed, n=8)}",
            "columns": [{"name": c, "type": _manifest_type(t)} for c, t in CUR2_COLUMNS.items()],
            "dataFiles": data_files,
            "additionalOutputFiles": [],
        }
        mkey = f"{prefix}/{export}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
        write_bytes(out / bucket / mkey, json.dumps(manifest, indent=2).encode())
        keys.append(mkey)
    return keys


def _manifest_type(t: pa.DataType) -> str:
    if pa.types.is_map(t):
        return "map"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_floating(t):
        return "double"
    return "string"


def write_legacy_cur(out: Path, estate: Estate, cur: pd.DataFrame, account: str) -> list[str]:
    """Legacy CUR for one member account: hourly CSV (gzip), overwrite mode, with its manifest."""
    bucket, prefix, report = f"cur-legacy-{account}", "billing", "hourly-legacy"
    mine = cur[cur.line_item_usage_account_id == account]
    keys = []
    periods = mine.bill_billing_period_start_date
    for start in sorted(periods.unique()):
        part = mine[periods == start]
        start_ts = pd.Timestamp(start)
        end_ts = start_ts + pd.offsets.MonthBegin(1)
        folder = f"{prefix}/{report}/{start_ts:%Y%m%d}-{end_ts:%Y%m%d}"
        cols = list(LEGACY_COLUMNS) + [f"resourceTags/user:{k}" for k in TAG_KEYS]
        frame = pd.DataFrame(index=part.index)
        pmaps = [dict(m) for m in part["product"]]
        tmaps = [dict(m) for m in part["resource_tags"]]
        for c, src in LEGACY_COLUMNS.items():
            if src.startswith("product:"):
                name = src.split(":", 1)[1]
                frame[c] = [m.get(name, "") for m in pmaps]
                continue
            v = part[src]
            if pd.api.types.is_datetime64_any_dtype(v):
                frame[c] = v.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif pd.api.types.is_float_dtype(v):
                frame[c] = v.map(lambda x: "" if x != x else f"{x:.10g}")
            else:
                frame[c] = v.fillna("")
        for k in TAG_KEYS:
            frame[f"resourceTags/user:{k}"] = [m.get(f"user_{k}", "") for m in tmaps]
        buf = io.StringIO()
        frame[cols].to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        key = f"{folder}/{report}-00001.csv.gz"
        write_gzip(out / bucket / key, buf.getvalue().encode())
        assembly = stable_hex("assembly", account, start_ts, n=32)
        manifest = {
            "assemblyId": f"{assembly[:8]}-{assembly[8:12]}-{assembly[12:16]}-{assembly[16:20]}-{assembly[20:]}",
            "account": account,
            "columns": [
                {
                    "category": c.split("/", 1)[0],
                    "name": c.split("/", 1)[1],
                    "type": "OptionalBigDecimal"
                    if any(x in c for x in ("Amount", "Cost", "Rate", "Factor"))
                    else ("DateTime" if "Date" in c else "OptionalString"),
                }
                for c in cols
            ],
            "charset": "UTF-8",
            "compression": "GZIP",
            "contentType": "text/csv",
            "reportId": stable_hex("report", account, n=64),
            "reportName": report,
            "billingPeriod": {"start": f"{start_ts:%Y%m%dT000000.000Z}", "end": f"{end_ts:%Y%m%dT000000.000Z}"},
            "bucket": bucket,
            "reportKeys": [key],
            "additionalArtifactKeys": [],
        }
        mkey = f"{folder}/{report}-Manifest.json"
        write_bytes(out / bucket / mkey, json.dumps(manifest, indent=2).encode())
        keys += [key, mkey]
    return keys
