"""Arrow schemas of the tables ingestion writes: one per log source, and the quarantine.

Each parser in ``egress_optimizer.ingest`` emits batches in its table's schema and documents what each
column means and where it comes from; the schemas themselves live here so the lake, the Glue catalog and
Athena read them without importing a parser.
"""

from __future__ import annotations

import pyarrow as pa

from egress_optimizer.formats.vpc_flow import FIELD_VERSION

_STR = pa.string()
_F64 = pa.float64()
_MS_UTC = pa.timestamp("ms", tz="UTC")
_MAP = pa.map_(pa.string(), pa.string())

# ---- vpc_flow ------------------------------------------------------------------------------------------------
VPC_FLOW_INT32 = {"version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path"}
VPC_FLOW_INT64 = {
    "packets",
    "bytes",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
}
VPC_FLOW_TIMES = {"start", "end"}


def vpc_flow_type(field: str) -> pa.DataType:
    """The Arrow type of a flow log field (hyphenated AWS name)."""
    if field in VPC_FLOW_INT32:
        return pa.int32()
    if field in VPC_FLOW_INT64:
        return pa.int64()
    if field in VPC_FLOW_TIMES:
        return _MS_UTC
    return _STR


VPC_FLOW_SCHEMA = pa.schema(
    [pa.field(f.replace("-", "_"), vpc_flow_type(f)) for f in FIELD_VERSION] + [pa.field("extra", _MAP)],
    # Columns with (nearly) unique values: the lake writer skips dictionary encoding for them.
    metadata={"egress.high_cardinality": "srcaddr,dstaddr,pkt_srcaddr,pkt_dstaddr,srcport,packets,bytes,start,end"},
)

# ---- s3_access -----------------------------------------------------------------------------------------------
S3_ACCESS_SCHEMA = pa.schema(
    [
        pa.field("bucket_owner", _STR),
        pa.field("bucket", _STR),
        pa.field("time", _MS_UTC, nullable=False),
        pa.field("remote_ip", _STR),
        pa.field("requester", _STR),
        pa.field("request_id", _STR),
        pa.field("operation", _STR),
        pa.field("key", _STR),
        pa.field("request_uri", _STR),
        pa.field("http_status", pa.int32()),
        pa.field("error_code", _STR),
        pa.field("bytes_sent", pa.int64()),
        pa.field("object_size", pa.int64()),
        pa.field("total_time_ms", pa.int64()),
        pa.field("turn_around_time_ms", pa.int64()),
        pa.field("referer", _STR),
        pa.field("user_agent", _STR),
        pa.field("version_id", _STR),
        pa.field("host_id", _STR),
        pa.field("signature_version", _STR),
        pa.field("cipher_suite", _STR),
        pa.field("authentication_type", _STR),
        pa.field("host_header", _STR),
        pa.field("tls_version", _STR),
        pa.field("access_point_arn", _STR),
        pa.field("acl_required", _STR),
        pa.field("source_region", _STR),
        pa.field("extra_fields", pa.list_(_STR)),
    ]
)

# ---- cloudfront ----------------------------------------------------------------------------------------------
CLOUDFRONT_SCHEMA = pa.schema(
    [
        pa.field("timestamp", _MS_UTC, nullable=False),
        pa.field("edge_location", _STR),
        pa.field("sc_bytes", pa.int64()),
        pa.field("c_ip", _STR),
        pa.field("cs_method", _STR),
        pa.field("cs_host", _STR),
        pa.field("cs_uri_stem", _STR),
        pa.field("sc_status", pa.int32()),
        pa.field("cs_referer", _STR),
        pa.field("cs_user_agent", _STR),
        pa.field("cs_uri_query", _STR),
        pa.field("cs_cookie", _STR),
        pa.field("edge_result_type", _STR),
        pa.field("edge_request_id", _STR),
        pa.field("host_header", _STR),
        pa.field("cs_protocol", _STR),
        pa.field("cs_bytes", pa.int64()),
        pa.field("time_taken", _F64),
        pa.field("forwarded_for", _STR),
        pa.field("ssl_protocol", _STR),
        pa.field("ssl_cipher", _STR),
        pa.field("edge_response_result_type", _STR),
        pa.field("cs_protocol_version", _STR),
        pa.field("fle_status", _STR),
        pa.field("fle_encrypted_fields", _STR),
        pa.field("c_port", pa.int32()),
        pa.field("time_to_first_byte", _F64),
        pa.field("edge_detailed_result_type", _STR),
        pa.field("sc_content_type", _STR),
        pa.field("sc_content_len", pa.int64()),
        pa.field("sc_range_start", pa.int64()),
        pa.field("sc_range_end", pa.int64()),
        pa.field("c_country", _STR),
        pa.field("distribution_id", _STR),
        pa.field("extra", _MAP),
    ]
)

# ---- cur -----------------------------------------------------------------------------------------------------
CUR_NUMBER_COLUMNS = (
    "usage_amount",
    "unblended_rate",
    "unblended_cost",
    "blended_cost",
    "net_unblended_cost",
    "public_on_demand_cost",
)
CUR_SCHEMA = pa.schema(
    [
        pa.field("cur_version", _STR),
        pa.field("billing_period", _STR),
        *[pa.field(f, _STR) for f in ("payer_account_id", "usage_account_id", "line_item_id", "time_interval")],
        pa.field("line_item_type", _STR),
        pa.field("usage_start", _MS_UTC),
        pa.field("usage_end", _MS_UTC),
        *[pa.field(f, _STR) for f in ("product_code", "usage_type", "operation", "resource_id", "availability_zone")],
        *[pa.field(f, _F64) for f in CUR_NUMBER_COLUMNS],
        *[
            pa.field(f, _STR)
            for f in (
                "currency",
                "description",
                "product_family",
                "servicecode",
                "region_code",
                "from_location",
                "from_location_type",
                "from_region_code",
                "to_location",
                "to_location_type",
                "to_region_code",
                "transfer_type",
                "pricing_unit",
            )
        ],
        pa.field("resource_tags", _MAP),
        pa.field("cost_category", _MAP),
        pa.field("extra", _MAP),
    ]
)

# ---- quarantine ----------------------------------------------------------------------------------------------
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", _STR, nullable=False),
        pa.field("source_object", _STR, nullable=False),
        pa.field("record_number", pa.int64(), nullable=False),
        pa.field("raw", _STR, nullable=False),
        pa.field("reason", _STR, nullable=False),
    ]
)
