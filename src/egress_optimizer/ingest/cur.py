"""Cost and Usage Report parser: legacy CUR (CSV or Parquet) and CUR 2.0 Data Exports (Parquet or CSV).

Inputs, recognised by their column names, never by position (any subset and order of columns):

- legacy CUR CSV (gzip, zip or plain) with slash-style names: ``lineItem/UsageType``,
  ``product/fromLocation``, ``resourceTags/user:team``, ``costCategory/Team``;
- legacy CUR in Parquet or exported from Athena, with snake_case names: ``line_item_usage_type``,
  ``resource_tags_user_team``, ``cost_category_team``; partition columns ``year``, ``month`` and
  ``billing_period`` are ignored;
- CUR 2.0 (Data Exports) Parquet: snake_case names plus the map columns ``product`` (product attributes
  that have no column of their own, e.g. ``product_name``, ``servicename``, ``transfer_type``, ``region``),
  ``resource_tags`` (keys ``user_team``, ``aws_created_by``), ``cost_category`` and ``discount``;
- CUR 2.0 delivered as CSV: the map columns hold JSON objects (``{"user_team":"web"}``). They are decoded;
  a value that is not a JSON object is kept verbatim in ``extra`` under the column's name.

CSV is UTF-8 (a BOM is dropped, invalid bytes become U+FFFD), comma-separated as AWS writes it; a header
that only splits into CUR columns on tab, ``;`` or ``|`` (re-exports) selects that delimiter. Trailing
empty fields beyond the header (a comma after the last value) are dropped.

Canonical schema of the ``cur`` table (one row per line item; null where the report has no value, and an
empty string counts as no value):

=======================  ======================  =========================================================
column                   type                    from
=======================  ======================  =========================================================
cur_version              string                  "cur2" (map columns / account-name columns /
                                                 ``BILLING_PERIOD=`` key) else "legacy"
billing_period           string "YYYY-MM"        bill_billing_period_start_date, else usage_start, else
                                                 the key (``BILLING_PERIOD=YYYY-MM`` or ``YYYYMMDD-YYYYMMDD``)
payer_account_id         string                  bill_payer_account_id
usage_account_id         string                  line_item_usage_account_id
line_item_id             string                  identity_line_item_id
time_interval            string                  identity_time_interval
line_item_type           string                  line_item_line_item_type
usage_start, usage_end   timestamp[ms, UTC]      line_item_usage_start_date / _end_date (no zone = UTC)
product_code             string                  line_item_product_code
usage_type               string                  line_item_usage_type
operation                string                  line_item_operation
resource_id              string                  line_item_resource_id
availability_zone        string                  line_item_availability_zone
usage_amount             double                  line_item_usage_amount
unblended_rate           double                  line_item_unblended_rate (a string in CUR 2.0)
unblended_cost           double                  line_item_unblended_cost
blended_cost             double                  line_item_blended_cost
net_unblended_cost       double                  line_item_net_unblended_cost
public_on_demand_cost    double                  pricing_public_on_demand_cost
currency                 string                  line_item_currency_code
description              string                  line_item_line_item_description
product_family           string                  product_product_family (CUR 2.0: or product map)
servicecode              string                  product_servicecode (or product map)
region_code              string                  product_region_code, else product map ``region_code``,
                                                 else product_region, else product map ``region``
from_location[_type]     string                  product_from_location[_type] (or product map)
from_region_code         string                  product_from_region_code (or product map)
to_location[_type]       string                  product_to_location[_type] (or product map)
to_region_code           string                  product_to_region_code (or product map)
transfer_type            string                  product_transfer_type (or product map ``transfer_type``)
pricing_unit             string                  pricing_unit
resource_tags            map<string,string>      tag columns / CUR 2.0 map; key = tag name without prefix
                                                 (``user:team``, ``resource_tags_user_team``, ``user_team``
                                                 -> ``team``); system tags keep ``aws:`` (``aws:createdBy``;
                                                 snake names of well-known system tags are restored, others
                                                 become ``aws:<snake>``). Legacy CSV keeps the tag's case
                                                 (``user:Team`` -> ``Team``); snake_case names are lower
                                                 case by nature. Empty tag values are dropped.
cost_category            map<string,string>      ``costCategory/X`` -> X, ``cost_category_x`` -> x, CUR 2.0 map
extra                    map<string,string>      every other non-empty column, stringified, keyed by its
                                                 snake_case name (``product/ProductName`` ->
                                                 ``product_product_name``); leftover CUR 2.0 product and
                                                 discount map entries as ``product_<key>``/``discount_<key>``
                                                 (``product.<key>`` if a column already has that name)
=======================  ======================  =========================================================

Account ids stored as integers (some third-party Parquet) are zero-padded back to 12 digits.

Records that are quarantined (``quarantine.add``), never emitted: a CSV record with the wrong number of
fields, a CSV syntax error or a repeated header line; a record with neither a usage type nor a product
code; a number that does not parse (or is not finite) in usage amount, rate or any cost column; a date
that does not parse in the usage start/end or billing period start columns. Missing columns are not an
error (their canonical columns are null). Record numbers are 1-based data record numbers (the header is
not counted, nor are blank lines); the raw text is the CSV record (as written by the exact reader,
re-serialised by the fast one), or a JSON dump of a Parquet row's non-empty values.

Whole objects that are unusable raise ``UnreadableObject``: not CSV or Parquet (binary: a NUL in the header
line), no recognisable CUR columns (neither a usage type nor a product code column), corrupt or truncated
gzip/zip/Parquet (after emitting what was read before the damage, so conservation holds), a zip with
more than one file, empty.

Manifests (``*-Manifest.json``) describe a delivery and hold no line items. ``is_manifest(key, head)`` lets a
caller skip them (the ingest pipeline does, by key), ``parse_manifest(data)`` reads both shapes, and
``parse`` raises ``UnreadableObject`` for a manifest rather than pretending it has zero records.

CSV is read by pyarrow's streaming reader (``csv_engine = "auto"``) in blocks of ``_ARROW_BLOCK`` bytes. The
first block with a structural problem (wrong field count, a syntax error, invalid UTF-8, or a carriage
return inside a value, which pyarrow mishandles across blocks) is not emitted: Python's ``csv`` module
takes over from that record on, with exact record numbers and raw text. Both readers give the same rows
(the tests check it record for record). Values are converted column-wise with pyarrow compute in batches
of at most ``batch_rows`` rows; Parquet is read batch by batch with ``iter_batches``. Memory stays bounded
by the block and batch sizes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from egress_optimizer.ingest.base import DEFAULT_BATCH_ROWS, ObjectBody, QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.tables import CUR

_STR = pa.string()
_F64 = pa.float64()
_TS = pa.timestamp("ms", tz="UTC")
_MAP = pa.map_(pa.string(), pa.string())

# Canonical string columns and the CUR column (snake_case, as Athena and CUR 2.0 name it) they come from.
_STRING_SOURCES = {
    "payer_account_id": "bill_payer_account_id",
    "usage_account_id": "line_item_usage_account_id",
    "line_item_id": "identity_line_item_id",
    "time_interval": "identity_time_interval",
    "line_item_type": "line_item_line_item_type",
    "product_code": "line_item_product_code",
    "usage_type": "line_item_usage_type",
    "operation": "line_item_operation",
    "resource_id": "line_item_resource_id",
    "availability_zone": "line_item_availability_zone",
    "currency": "line_item_currency_code",
    "description": "line_item_line_item_description",
    "product_family": "product_product_family",
    "servicecode": "product_servicecode",
    "region_code": "product_region_code",
    "from_location": "product_from_location",
    "from_location_type": "product_from_location_type",
    "from_region_code": "product_from_region_code",
    "to_location": "product_to_location",
    "to_location_type": "product_to_location_type",
    "to_region_code": "product_to_region_code",
    "transfer_type": "product_transfer_type",
    "pricing_unit": "pricing_unit",
}
_NUMBER_SOURCES = {
    "usage_amount": "line_item_usage_amount",
    "unblended_rate": "line_item_unblended_rate",
    "unblended_cost": "line_item_unblended_cost",
    "blended_cost": "line_item_blended_cost",
    "net_unblended_cost": "line_item_net_unblended_cost",
    "public_on_demand_cost": "pricing_public_on_demand_cost",
}
_TIME_SOURCES = {"usage_start": "line_item_usage_start_date", "usage_end": "line_item_usage_end_date"}
_BILL_START = "bill_billing_period_start_date"
# CUR 2.0 moves product attributes without a column of their own into the ``product`` map, where
# ``product_from_location`` is key ``from_location``.
_PRODUCT_MAP_KEYS = {f: src[len("product_") :] for f, src in _STRING_SOURCES.items() if src.startswith("product_")}
# Second choices, used where the first is empty; they are not consumed, so they also stay in ``extra``.
_FALLBACK_COLUMNS = {"region_code": "product_region"}
_FALLBACK_MAP_KEYS = {"region_code": "region"}
_ACCOUNT_FIELDS = ("payer_account_id", "usage_account_id")
_PARTITION_COLUMNS = {"year", "month", "billing_period"}
_MAP_ROLES = ("product", "resource_tags", "cost_category", "discount")
_CUR2_ONLY = {"bill_payer_account_name", "line_item_usage_account_name"}
_REQUIRED_ANY = ("line_item_usage_type", "line_item_product_code")

# Athena spells ``resourceTags/aws:createdBy`` as ``resource_tags_aws_created_by``; restore the common ones.
_AWS_SYSTEM_TAGS = {
    "created_by": "aws:createdBy",
    "cloudformation_stack_name": "aws:cloudformation:stack-name",
    "cloudformation_stack_id": "aws:cloudformation:stack-id",
    "cloudformation_logical_id": "aws:cloudformation:logical-id",
    "autoscaling_group_name": "aws:autoscaling:groupName",
    "ec2spot_fleet_request_id": "aws:ec2spot:fleet-request-id",
    "ecs_cluster_name": "aws:ecs:clusterName",
    "ecs_service_name": "aws:ecs:serviceName",
    "eks_cluster_name": "aws:eks:cluster-name",
    "servicecatalog_product_arn": "aws:servicecatalog:productArn",
}

CUR_SCHEMA = CUR.schema
SCHEMA = CUR_SCHEMA  # the name the other parsers use

_NUMBER_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?\s*$"
# Calendar-shaped ISO 8601 only, so that Arrow's cast (which rejects a whole array for one bad value) rarely fails.
_ISO_RE = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?"
    r"(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)$"
)
_KEY_PERIOD = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})", re.IGNORECASE)
_KEY_LEGACY_PERIOD = re.compile(r"(?:^|/)(\d{4})(\d{2})01-\d{8}(?:/|$)")
_ARROW_BLOCK = 16 << 20  # bytes of CSV per pyarrow block: bounds memory, amortises per-batch work
_PYTHON_BATCH = 16_384  # rows held as Python lists by the exact CSV reader (they cost ~10x their bytes)
_DELIMITERS = (",", "\t", ";", "|")  # AWS writes commas; the others come from re-exports (Excel, BI tools)
_ZIP_MAGIC = b"PK\x03\x04"
_MANIFEST_MARKERS = (b'"assemblyId"', b'"reportKeys"', b'"executionId"', b'"dataFiles"', b'"exportArn"')


# ---- names ------------------------------------------------------------------------------------------------
def _camel_to_snake(text: str) -> str:
    """Athena's rule: an underscore before every capital (``SavingsPlanARN`` -> ``savings_plan_a_r_n``)."""
    s = re.sub(r"([A-Z])", r"_\1", text).lower()
    return re.sub(r"[^0-9a-z]+", "_", s).strip("_")


def snake_name(column: str) -> str:
    """The snake_case name of a CUR column in any spelling: ``lineItem/UsageType`` -> ``line_item_usage_type``."""
    column = column.strip().lstrip("\ufeff")
    if "/" in column:
        category, name = column.split("/", 1)
        return f"{_camel_to_snake(category)}_{_camel_to_snake(name)}".strip("_")
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_")


def tag_key(raw: str) -> str:
    """Canonical tag key: the tag name without ``user:``/``user_``; system tags as ``aws:...``."""
    if raw.startswith("user:"):
        return raw[5:] or raw
    if raw.startswith("aws:"):
        return raw
    if raw.startswith("user_"):
        return raw[5:] or raw
    if raw.startswith("aws_") and len(raw) > 4:
        rest = raw[4:]
        return _AWS_SYSTEM_TAGS.get(rest, f"aws:{rest}")
    return raw


def looks_like_columns(names: list[str]) -> bool:
    """Whether a header or schema names a CUR: it has a usage type or product code column, in any spelling."""
    snakes = {snake_name(n) for n in names}
    return any(r in snakes for r in _REQUIRED_ANY)


looks_like_parquet_schema = looks_like_columns


@dataclass
class _Layout:
    """How one object's columns map to the canonical schema (computed once per object)."""

    names: list[str]
    version: str
    direct: dict[str, int] = field(default_factory=dict)  # canonical field -> column index
    fallbacks: dict[str, int] = field(default_factory=dict)
    bill_start: int | None = None
    tags: list[tuple[int, str]] = field(default_factory=list)
    cost_categories: list[tuple[int, str]] = field(default_factory=list)
    maps: dict[str, int] = field(default_factory=dict)  # product/resource_tags/cost_category/discount
    extras: list[tuple[int, str]] = field(default_factory=list)
    extra_keys: set[str] = field(default_factory=set)
    period_from_key: str | None = None

    @classmethod
    def build(cls, names: list[str], key: str) -> _Layout:
        if not looks_like_columns(names):
            shown = ", ".join(n[:40] for n in names[:8])
            raise UnreadableObject(f"no recognisable CUR columns (no usage type or product code column): {shown}")
        by_snake = {v: k for k, v in {**_STRING_SOURCES, **_NUMBER_SOURCES, **_TIME_SOURCES}.items()}
        fallback_of = {v: k for k, v in _FALLBACK_COLUMNS.items()}
        snakes = [snake_name(n) for n in names]
        slashy = any("/" in n for n in names)
        cur2 = not slashy and (
            any(s in _MAP_ROLES for s in snakes) or bool(_CUR2_ONLY & set(snakes)) or "BILLING_PERIOD=" in key
        )
        lay = cls(names=list(names), version="cur2" if cur2 else "legacy")
        for i, (name, snake) in enumerate(zip(names, snakes, strict=True)):
            stripped = name.strip().lstrip("\ufeff")
            lower = stripped.lower()
            if "/" not in stripped and snake in _PARTITION_COLUMNS:
                continue  # Hive partition columns repeat the key, they are not report data
            if lower.startswith("resourcetags/"):
                lay.tags.append((i, tag_key(stripped.split("/", 1)[1])))
            elif lower.startswith("costcategory/"):
                lay.cost_categories.append((i, stripped.split("/", 1)[1]))
            elif snake.startswith("resource_tags_") and "/" not in stripped:
                lay.tags.append((i, tag_key(snake[len("resource_tags_") :])))
            elif snake.startswith("cost_category_") and "/" not in stripped:
                lay.cost_categories.append((i, snake[len("cost_category_") :]))
            elif snake in _MAP_ROLES and "/" not in stripped and snake not in lay.maps:
                lay.maps[snake] = i
            elif snake in by_snake and by_snake[snake] not in lay.direct:
                lay.direct[by_snake[snake]] = i
            else:
                if snake == _BILL_START and lay.bill_start is None:
                    lay.bill_start = i
                if snake in fallback_of and fallback_of[snake] not in lay.fallbacks:
                    lay.fallbacks[fallback_of[snake]] = i
                extra_key = snake if snake and snake not in lay.extra_keys else stripped
                if extra_key in lay.extra_keys:  # the same column twice: keep both values
                    extra_key = f"{stripped}#{i + 1}"
                lay.extra_keys.add(extra_key)
                lay.extras.append((i, extra_key))
        m = _KEY_PERIOD.search(key) or None
        if m:
            lay.period_from_key = m.group(1)
        else:
            m2 = _KEY_LEGACY_PERIOD.search(key)
            if m2:
                lay.period_from_key = f"{m2.group(1)}-{m2.group(2)}"
        return lay

    def label(self, i: int) -> str:
        return self.names[i].strip()


# ---- values -----------------------------------------------------------------------------------------------
def _mask(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array (nulls = False) as numpy."""
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def _null_if_empty(s: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, _STR), s)


def _as_string(a: pa.Array) -> pa.Array:
    """Any Arrow column as strings (nested values as JSON), empty strings as null."""
    t = a.type
    if pa.types.is_dictionary(t):
        a = a.dictionary_decode()
        t = a.type
    if pa.types.is_string(t):
        return _null_if_empty(a)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _null_if_empty(pc.cast(a, _STR))
    nested = pa.types.is_nested(t)
    if not nested:
        try:
            return _null_if_empty(pc.cast(a, _STR))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out = []
    for v in a.to_pylist():
        if v is None:
            out.append(None)
        elif isinstance(v, bytes):
            out.append(v.decode("utf-8", "replace"))
        elif nested:
            out.append(json.dumps(v, default=str, ensure_ascii=False))
        else:
            out.append(str(v))
    return _null_if_empty(pa.array(out, _STR))


def _cast_bisect(s: pa.Array, t: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast, isolating values Arrow rejects by halving (cheap when there are few of them)."""
    try:
        return pc.cast(s, t), np.zeros(len(s), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(s) == 1:
            return pa.nulls(1, t), np.ones(1, dtype=bool)
    mid = len(s) // 2
    left, lbad = _cast_bisect(s.slice(0, mid), t)
    right, rbad = _cast_bisect(s.slice(mid), t)
    return pa.concat_arrays([left, right]), np.concatenate([lbad, rbad])


def _to_number(a: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(float64 values, bad mask). Bad: present but not a finite decimal number."""
    t = a.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
        values = pc.cast(a, _F64)
        bad = np.zeros(len(a), dtype=bool)
    else:
        s = _as_string(a)
        ok = pc.match_substring_regex(s, _NUMBER_RE)
        bad = s.is_valid().to_numpy(zero_copy_only=False) & ~_mask(ok)
        trimmed = pc.utf8_trim_whitespace(pc.if_else(ok, s, pa.scalar(None, _STR)))
        values, cast_bad = _cast_bisect(trimmed, _F64)
        bad |= cast_bad
    non_finite = values.is_valid().to_numpy(zero_copy_only=False) & ~_mask(pc.is_finite(values))
    bad |= non_finite
    if bad.any():
        values = pc.if_else(pa.array(bad), pa.scalar(None, _F64), values)
    return values, bad


def _to_timestamp(a: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(timestamp[ms, UTC], bad mask). A time without a zone is UTC, as AWS writes them."""
    t = a.type
    none = np.zeros(len(a), dtype=bool)
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return pc.cast(pc.cast(a, pa.timestamp("ms"), safe=False), _TS), none
        return pc.cast(a, _TS, safe=False), none
    if pa.types.is_date(t):
        return pc.cast(pc.cast(a, pa.timestamp("ms")), _TS), none
    s = pc.utf8_trim_whitespace(_as_string(a))
    s = _null_if_empty(s)
    present = s.is_valid().to_numpy(zero_copy_only=False)
    s = pc.replace_substring_regex(s, r"\s*UTC$", "Z")
    s = pc.replace_substring_regex(s, r"^(\d{4}-\d{2}-\d{2})$", r"\1T00:00:00")
    s = pc.replace_substring_regex(s, r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})", r"\1-\2-\3T\4:\5:\6")
    s = pc.replace_substring_regex(s, r"(:\d{2}\.\d{3})\d+", r"\1")  # finer than ms: truncate
    zoned = pc.match_substring_regex(s, r"(Z|[+-]\d{2}(:?\d{2})?)$")
    s = pc.if_else(zoned, s, pc.binary_join_element_wise(s, pa.scalar("Z"), ""))
    ok = pc.match_substring_regex(s, _ISO_RE)
    bad = present & ~_mask(ok)
    values, cast_bad = _cast_bisect(pc.if_else(ok, s, pa.scalar(None, _STR)), _TS)
    return values, bad | cast_bad


# ---- maps -------------------------------------------------------------------------------------------------
@dataclass
class _Entries:
    """(row, key, value) triples that become one map column."""

    rows: list[np.ndarray] = field(default_factory=list)
    keys: list[pa.Array] = field(default_factory=list)
    values: list[pa.Array] = field(default_factory=list)

    def add_column(self, values: pa.Array, key: str) -> None:
        """A whole column as entries ``key -> value`` where the value is present."""
        present = values.is_valid().to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(present)
        if len(idx) == 0:
            return
        self.rows.append(idx)
        self.keys.append(pa.repeat(pa.scalar(key, _STR), len(idx)))
        self.values.append(values.take(pa.array(idx)) if len(idx) != len(values) else values)

    def add(self, rows: np.ndarray, keys: pa.Array, values: pa.Array) -> None:
        present = values.is_valid().to_numpy(zero_copy_only=False) & keys.is_valid().to_numpy(zero_copy_only=False)
        if not present.all():
            sel = pa.array(present)
            rows, keys, values = rows[present], keys.filter(sel), values.filter(sel)
        if len(rows):
            self.rows.append(rows)
            self.keys.append(keys)
            self.values.append(values)

    def build(self, n: int) -> pa.Array:
        if not self.rows:
            return pa.MapArray.from_arrays(
                pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], _STR), pa.array([], _STR)
            )
        rows = np.concatenate(self.rows)
        order = np.argsort(rows, kind="stable")  # by row; column order within a row
        keys = pa.concat_arrays(self.keys).take(pa.array(order))
        values = pa.concat_arrays(self.values).take(pa.array(order))
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
        return pa.MapArray.from_arrays(pa.array(offsets), keys, values)


def _map_parts(m: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """(row index, keys, values as strings) of a map column, for valid rows only."""
    n = len(m)
    offsets = np.asarray(m.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    start, end = int(offsets[0]), int(offsets[-1])
    counts = np.diff(offsets)
    rows = np.repeat(np.arange(n), counts)
    keys = m.keys.slice(start, end - start)
    values = _as_string(m.items.slice(start, end - start))
    valid = m.is_valid().to_numpy(zero_copy_only=False)
    if not valid.all():
        keep = np.repeat(valid, counts)
        sel = pa.array(keep)
        rows, keys, values = rows[keep], keys.filter(sel), values.filter(sel)
    return rows, pc.cast(keys, _STR), values


def _json_map(s: pa.Array) -> tuple[pa.Array, pa.Array]:
    """A CUR 2.0 CSV map column (JSON objects as text) as (map<string,string>, values that were not JSON)."""
    maps: list[list[tuple[str, str]] | None] = []
    unparsed: list[str | None] = []
    for v in s.to_pylist():
        if v is None or v.strip() in ("", "{}", "[]"):
            maps.append(None)
            unparsed.append(None)
            continue
        try:
            obj = json.loads(v)
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            maps.append(None)
            unparsed.append(v)
            continue
        maps.append(
            [
                (str(k), x if isinstance(x, str) else json.dumps(x, ensure_ascii=False))
                for k, x in obj.items()
                if x is not None
            ]
        )
        unparsed.append(None)
    return pa.array(maps, _MAP), pa.array(unparsed, _STR)


def _rename_keys(keys: pa.Array, rename: Callable[[str], str]) -> pa.Array:
    """Apply ``rename`` once per distinct key."""
    if len(keys) == 0:
        return keys
    enc = pc.dictionary_encode(keys)
    names = pa.array([rename(k) for k in enc.dictionary.to_pylist()], _STR)
    return names.take(enc.indices)


# ---- batch conversion -------------------------------------------------------------------------------------
def _period_of(ts: pa.Array) -> pa.Array:
    return pc.strftime(ts, format="%Y-%m")


def _convert(
    lay: _Layout, column: Callable[[int], pa.Array], n: int
) -> tuple[dict[str, pa.Array], list[tuple[np.ndarray, str, int | None]]]:
    """Canonical columns of one batch, and the failed checks as (rows, reason, column index)."""
    out: dict[str, pa.Array] = {}
    checks: list[tuple[np.ndarray, str, int | None]] = []
    cache: dict[int, pa.Array] = {}

    def text(i: int) -> pa.Array:
        if i not in cache:
            cache[i] = _as_string(column(i))
        return cache[i]

    # Map columns (typed in Parquet, JSON text in CUR 2.0 CSV).
    maps: dict[str, pa.Array] = {}
    unparsed: dict[str, pa.Array] = {}
    for role, i in lay.maps.items():
        a = column(i)
        if pa.types.is_map(a.type):
            try:
                maps[role] = a if a.type.key_type == _STR else pc.cast(a, pa.map_(_STR, a.type.item_type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                unparsed[role] = text(i)  # a map we cannot key by name: keep it whole in ``extra``
        elif pa.types.is_string(a.type) or pa.types.is_large_string(a.type):
            maps[role], unparsed[role] = _json_map(text(i))
        else:
            unparsed[role] = text(i)
    product = maps.get("product")
    product_consumed: set[str] = set()

    for f in _STRING_SOURCES:
        v = text(lay.direct[f]) if f in lay.direct else None
        if f in _ACCOUNT_FIELDS and v is not None and pa.types.is_integer(column(lay.direct[f]).type):
            v = pc.utf8_lpad(v, 12, "0")  # an account id written as a number lost its leading zeros
        candidates = [v]
        if product is not None and f in _PRODUCT_MAP_KEYS:
            candidates.append(_null_if_empty(_as_string(pc.map_lookup(product, _PRODUCT_MAP_KEYS[f], "first"))))
            product_consumed.add(_PRODUCT_MAP_KEYS[f])
        if f in lay.fallbacks:
            candidates.append(text(lay.fallbacks[f]))
        if product is not None and f in _FALLBACK_MAP_KEYS:
            candidates.append(_null_if_empty(_as_string(pc.map_lookup(product, _FALLBACK_MAP_KEYS[f], "first"))))
        present = [c for c in candidates if c is not None]
        if not present:
            out[f] = pa.nulls(n, _STR)
        elif len(present) == 1:
            out[f] = present[0]
        else:
            out[f] = pc.coalesce(*present)

    missing = ~(_mask(out["usage_type"].is_valid()) | _mask(out["product_code"].is_valid()))
    checks.append((missing, "no usage type and no product code", None))

    for f in _NUMBER_SOURCES:
        if f not in lay.direct:
            out[f] = pa.nulls(n, _F64)
            continue
        out[f], bad = _to_number(column(lay.direct[f]))
        checks.append((bad, "unparseable number", lay.direct[f]))

    for f in _TIME_SOURCES:
        if f not in lay.direct:
            out[f] = pa.nulls(n, _TS)
            continue
        out[f], bad = _to_timestamp(column(lay.direct[f]))
        checks.append((bad, "unparseable date", lay.direct[f]))

    period_sources = []
    if lay.bill_start is not None:
        bill_start, bad = _to_timestamp(column(lay.bill_start))
        checks.append((bad, "unparseable date", lay.bill_start))
        period_sources.append(_period_of(bill_start))
    period_sources.append(_period_of(out["usage_start"]))
    if lay.period_from_key:
        period_sources.append(pa.repeat(pa.scalar(lay.period_from_key, _STR), n))
    out["billing_period"] = pc.coalesce(*period_sources) if len(period_sources) > 1 else period_sources[0]
    out["cur_version"] = pa.repeat(pa.scalar(lay.version, _STR), n)

    tags, categories, extra = _Entries(), _Entries(), _Entries()
    for i, key in lay.tags:
        tags.add_column(text(i), key)
    if "resource_tags" in maps:
        rows, keys, values = _map_parts(maps["resource_tags"])
        tags.add(rows, _rename_keys(keys, tag_key), _null_if_empty(values))
    for i, key in lay.cost_categories:
        categories.add_column(text(i), key)
    if "cost_category" in maps:
        rows, keys, values = _map_parts(maps["cost_category"])
        categories.add(rows, keys, _null_if_empty(values))
    out["resource_tags"] = tags.build(n)
    out["cost_category"] = categories.build(n)

    for i, key in lay.extras:
        extra.add_column(text(i), key)
    for role in ("product", "discount"):
        if role not in maps:
            continue
        rows, keys, values = _map_parts(maps[role])
        if role == "product" and product_consumed and len(keys):
            keep = ~_mask(pc.is_in(keys, pa.array(sorted(product_consumed), _STR)))
            sel = pa.array(keep)
            rows, keys, values = rows[keep], keys.filter(sel), values.filter(sel)

        def prefixed(k: str, role: str = role) -> str:
            name = f"{role}_{k}"
            return name if name not in lay.extra_keys else f"{role}.{k}"  # never shadow a real column

        extra.add(rows, _rename_keys(keys, prefixed), _null_if_empty(values))
    for role, raw in unparsed.items():
        extra.add_column(raw, role)
    out["extra"] = extra.build(n)
    return out, checks


def _reason(lay: _Layout, reason: str, col: int | None, value: Any) -> str:
    if col is None:
        return reason
    shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
    return f"{reason} in {lay.label(col)}: {shown!r}"


def _emit(
    lay: _Layout,
    column: Callable[[int], pa.Array],
    n: int,
    record_numbers: Callable[[int], int],
    raw_text: Callable[[int], str],
    q: QuarantineSink,
    first_checks: Sequence[tuple[np.ndarray, str]] = (),
) -> pa.RecordBatch | None:
    """Convert a batch, quarantine its bad rows and return the good ones (None if there are none)."""
    out, checks = _convert(lay, column, n)
    checks = [(rows, reason, None) for rows, reason in first_checks] + checks
    bad = np.zeros(n, dtype=bool)
    for rows, _, _ in checks:
        bad |= rows
    if bad.any():
        for i in np.flatnonzero(bad):
            i = int(i)
            for rows, reason, col in checks:
                if rows[i]:
                    value = None if col is None else column(col).slice(i, 1).to_pylist()[0]
                    q.add(record_numbers(i), raw_text(i), _reason(lay, reason, col, value))
                    break
    batch = pa.RecordBatch.from_arrays([out[f.name] for f in CUR_SCHEMA], schema=CUR_SCHEMA)
    if bad.any():
        batch = batch.filter(pa.array(~bad))
    return batch if batch.num_rows else None


# ---- detection and manifests ------------------------------------------------------------------------------
def _first_record(text: str, delimiter: str) -> list[str] | None:
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if row:
                return row
    except csv.Error:
        return None
    return None


def _sniff(text: str) -> tuple[list[str] | None, str]:
    """(header, delimiter) of CSV text: the first delimiter whose header names CUR columns."""
    first = None
    for delimiter in _DELIMITERS:
        row = _first_record(text, delimiter)
        if first is None:
            first = row
        if row is not None and looks_like_columns(row):
            return row, delimiter
    return first, ","


def _header_of(head: bytes) -> list[str] | None:
    """The CUR header of a head of bytes (plain, or the first member of a zip), or None."""
    if head[:4] == _ZIP_MAGIC:
        head = _zip_head(head)
    if not head or b"\x00" in head.split(b"\n", 1)[0][:4096]:
        return None
    header, _ = _sniff(head.decode("utf-8", "replace").lstrip("\ufeff"))
    return header


def _zip_head(head: bytes) -> bytes:
    """The first bytes of a zip's first member, from the local file header at the start of the zip."""
    if len(head) < 30:
        return b""
    (method,) = struct.unpack_from("<H", head, 8)
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    data = head[30 + name_len + extra_len :]
    if method == 0:
        return data
    if method != 8:
        return b""
    try:
        return zlib.decompressobj(-15).decompress(data, 65_536)
    except zlib.error:
        return b""


def is_manifest(key: str, head: bytes = b"") -> bool:
    """A legacy CUR or CUR 2.0 manifest (by its key, or a JSON object with manifest fields)."""
    if key.lower().endswith("manifest.json"):
        return True
    start = head.lstrip()[:1]
    return start == b"{" and any(m in head for m in _MANIFEST_MARKERS)


def looks_like(head: bytes, key: str = "") -> bool:
    """A CUR CSV by its header (``lineItem/UsageType`` or ``line_item_usage_type`` ...). For Parquet the
    head cannot tell: True only for a CUR 2.0 key layout; use ``looks_like_parquet(body)`` instead."""
    if head[:4] == b"PAR1":
        return "BILLING_PERIOD=" in key
    if is_manifest(key, head):
        return False
    names = _header_of(head)
    return names is not None and looks_like_columns(names)


def looks_like_parquet(body: ObjectBody) -> bool:
    """A Parquet object whose schema has CUR columns (reads only the footer)."""
    try:
        with body.seekable() as f:
            names = pq.ParquetFile(f).schema_arrow.names
    except (pa.ArrowException, OSError, ValueError, UnreadableObject):
        return False
    return looks_like_columns(names)


def _period(text: str | None) -> str | None:
    """``20261001T000000.000Z`` / ``2026-10-01T00:00:00Z`` / ``2026-10`` -> ``2026-10``."""
    if not text:
        return None
    m = re.match(r"^(\d{4})-?(\d{2})", str(text).strip())
    return f"{m.group(1)}-{m.group(2)}" if m else None


def parse_manifest(data: bytes) -> dict:
    """Both manifest shapes as ``{kind, billing_period, data_files, columns, ...}``.

    - CUR 2.0 (Data Exports): ``executionId``, ``exportArn``, ``columns[{name,type}]``, ``dataFiles``
      (s3:// URIs); the billing period comes from ``billingPeriod`` when present, else the
      ``BILLING_PERIOD=YYYY-MM`` partition of the data files.
    - legacy CUR: ``assemblyId``, ``account``, ``columns[{category,name,type}]`` (named
      ``category/name`` here), ``billingPeriod{start,end}``, ``bucket``, ``reportKeys`` (object keys).
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UnreadableObject(f"CUR manifest is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise UnreadableObject("CUR manifest is not a JSON object")
    columns_in = doc.get("columns") or []
    if not isinstance(columns_in, list):
        columns_in = []
    if "dataFiles" in doc or "executionId" in doc or "exportArn" in doc:
        files = [str(f) for f in doc.get("dataFiles") or []]
        bp = doc.get("billingPeriod")
        period = _period(bp.get("start") if isinstance(bp, dict) else bp)
        if period is None:
            found = {m.group(1) for f in files if (m := _KEY_PERIOD.search(f))}
            period = found.pop() if len(found) == 1 else None
        columns = {str(c.get("name")): str(c.get("type", "")) for c in columns_in if isinstance(c, dict)}
        return {
            "kind": "cur2",
            "billing_period": period,
            "data_files": files,
            "columns": columns,
            "id": doc.get("executionId"),
            "export_arn": doc.get("exportArn"),
        }
    if "reportKeys" in doc or "assemblyId" in doc:
        bp = doc.get("billingPeriod")
        columns = {
            f"{c.get('category')}/{c.get('name')}" if c.get("category") else str(c.get("name")): str(c.get("type", ""))
            for c in columns_in
            if isinstance(c, dict)
        }
        return {
            "kind": "legacy",
            "billing_period": _period(bp.get("start") if isinstance(bp, dict) else None),
            "data_files": [str(k) for k in doc.get("reportKeys") or []],
            "columns": columns,
            "id": doc.get("assemblyId"),
            "bucket": doc.get("bucket"),
            "account": doc.get("account"),
            "report_name": doc.get("reportName"),
        }
    raise UnreadableObject("JSON object is not a CUR manifest (no dataFiles/executionId or reportKeys/assemblyId)")


# ---- the parser -------------------------------------------------------------------------------------------
class _LineTap:
    """Hands lines to ``csv.reader`` and remembers them, so a bad record is quarantined as written."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self._buf: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._buf.append(line)
        return line

    def take(self) -> str:
        raw = self._buf[0] if len(self._buf) == 1 else "".join(self._buf)
        self._buf.clear()
        return raw.rstrip("\r\n")


class _Checked(io.RawIOBase):
    """A decompressing stream whose corruption errors become ``UnreadableObject``."""

    def __init__(self, raw: BinaryIO, what: str, *closing: Any):
        self._raw = raw
        self._what = what
        self._closing = closing

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._raw.read(len(b))
        except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as e:
            raise UnreadableObject(f"corrupt or truncated {self._what}: {e}") from None
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        for c in (self._raw, *self._closing):
            with contextlib.suppress(Exception):  # closing what failed to read must not hide the first error
                c.close()
        super().close()


class _ZipBody:
    """The one CSV inside a zip (legacy CUR can be delivered as ``.csv.zip``), as an ObjectBody."""

    def __init__(self, body: ObjectBody):
        self._body = body

    def stream(self) -> BinaryIO:
        raw = self._body.seekable()
        try:
            zf = zipfile.ZipFile(raw)
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise UnreadableObject(f"zip holds {len(members)} files; a CUR zip holds one CSV")
            member = zf.open(members[0])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
            raw.close()
            raise UnreadableObject(f"unreadable zip: {e}") from None
        return io.BufferedReader(_Checked(member, "zip", zf, raw), buffer_size=1 << 20)  # type: ignore[return-value]

    def seekable(self) -> BinaryIO:
        raise UnreadableObject("a zip member is not seekable")

    def raw(self) -> BinaryIO:
        return self.stream()  # the member inflated: text to whatever reads raw bytes

    def head(self, n: int = 65_536) -> bytes:
        with self.stream() as s:
            try:
                return s.read(n)
            except UnreadableObject:
                return b""

    def is_parquet(self) -> bool:
        return False


class _SlowPath(Exception):
    """The fast CSV reader met something only the exact reader handles."""


def _read_header(body: ObjectBody) -> tuple[list[str], str]:
    """The first non-blank CSV record, as written (BOM removed), and the delimiter that splits it."""
    stream = body.stream()
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        for line in text:
            if line.strip("\r\n"):
                break
        else:
            raise UnreadableObject("empty object: no CSV header")
        _, delimiter = _sniff(line)
        try:
            return next(csv.reader(itertools.chain([line], text), delimiter=delimiter)), delimiter
        except (csv.Error, StopIteration) as e:
            raise UnreadableObject(f"header is not CSV: {e}") from None
    finally:
        stream.close()


def _csv_line(values: Iterable[Any], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(values)
    return buf.getvalue()


def _has_cr(batch: pa.RecordBatch) -> bool:
    """Whether any value holds a carriage return (a scan of the string data buffers, no per-value work)."""
    for c in batch.columns:
        data = c.buffers()[2]
        if data is not None and b"\r" in data.to_pybytes():
            return True
    return False


def _repeated_header(batch: pa.RecordBatch, header: list[str]) -> np.ndarray:
    """Rows equal to the header line (files concatenated with their headers)."""
    first = pc.equal(batch.column(0), header[0])
    if not pc.any(first).as_py():
        return np.zeros(batch.num_rows, dtype=bool)
    same = first
    for i in range(1, len(header)):
        same = pc.and_(same, pc.equal(batch.column(i), header[i]))
    return _mask(same)


def _rows_batch(
    lay: _Layout, rows: list[list[str]], raws: list[str], numbers: list[int], q: QuarantineSink
) -> pa.RecordBatch | None:
    columns = list(zip(*rows, strict=True))
    arrays: dict[int, pa.Array] = {}

    def column(i: int) -> pa.Array:
        if i not in arrays:
            arrays[i] = pa.array(columns[i], _STR)
        return arrays[i]

    return _emit(lay, column, len(rows), numbers.__getitem__, raws.__getitem__, q)


class CurParser:
    """Legacy CUR and CUR 2.0, CSV or Parquet, into the ``cur`` table."""

    source = "cur"
    table = CUR
    schema = CUR_SCHEMA
    csv_engine = "auto"  # "auto": pyarrow, handing over to Python's csv on malformed input; "python": exact only

    def parse(
        self, body: ObjectBody, obj: SourceObject, quarantine: QuarantineSink, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        batch_rows = max(1, int(batch_rows))
        if body.is_parquet():
            yield from self._parse_parquet(body, obj, quarantine, batch_rows)
            return
        head = body.head(65_536)
        if head[:4] == _ZIP_MAGIC:
            body = _ZipBody(body)
            head = body.head(65_536)
        if is_manifest(obj.key, head):
            raise UnreadableObject("CUR manifest, not line items (read it with parse_manifest)")
        if not head:
            with body.stream() as s:
                s.read(1)  # a gzip broken at its start raises UnreadableObject here
            raise UnreadableObject("empty object")
        if b"\x00" in head.split(b"\n", 1)[0][:4096]:
            raise UnreadableObject("binary content: neither CSV nor Parquet")  # NUL in the header line
        yield from self._parse_csv(body, obj, quarantine, batch_rows)

    # ---- CSV ------------------------------------------------------------------------------------------------
    def _parse_csv(
        self, body: ObjectBody, obj: SourceObject, q: QuarantineSink, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        header, delimiter = _read_header(body)
        lay = _Layout.build([c.strip().lstrip("\ufeff") for c in header], obj.key)
        skip = 0
        if self.csv_engine == "auto" and len(set(header)) == len(header):
            done = [0]
            try:
                yield from self._arrow_csv(body, lay, header, delimiter, q, batch_rows, done)
                return
            except _SlowPath:
                skip = done[0]  # records already emitted; the exact reader resumes after them
        yield from self._python_csv(body, lay, delimiter, q, batch_rows, skip)

    @staticmethod
    def _arrow_csv(
        body: ObjectBody,
        lay: _Layout,
        header: list[str],
        delimiter: str,
        q: QuarantineSink,
        batch_rows: int,
        done: list[int],
    ) -> Iterator[pa.RecordBatch]:
        """pyarrow's reader, for well-formed files (the usual case). Any structural problem (wrong field
        count, invalid UTF-8, bad quoting) raises ``_SlowPath`` before the block holding it is emitted."""
        stream = body.stream()
        try:
            try:
                reader = pacsv.open_csv(
                    pa.PythonFile(stream, mode="r"),
                    read_options=pacsv.ReadOptions(use_threads=False, block_size=_ARROW_BLOCK),
                    parse_options=pacsv.ParseOptions(
                        delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types=dict.fromkeys(header, _STR), strings_can_be_null=False
                    ),
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise _SlowPath from e
            if reader.schema.names != header or any(t != _STR for t in reader.schema.types):
                raise _SlowPath
            while True:
                try:
                    block = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise _SlowPath from e
                if _has_cr(block):
                    # pyarrow (<= 25) drops the "\n" of a quoted "\r\n" that straddles two blocks.
                    raise _SlowPath
                for start in range(0, block.num_rows, batch_rows):
                    piece = block.slice(start, batch_rows)
                    n = piece.num_rows
                    q.read += n
                    base = done[0]
                    done[0] += n
                    out = _emit(
                        lay,
                        piece.column,
                        n,
                        lambda i, base=base: base + i + 1,
                        lambda i, piece=piece: _csv_line(piece.slice(i, 1).to_pylist()[0].values(), delimiter),
                        q,
                        [(_repeated_header(piece, header), "repeated header line")],
                    )
                    if out is not None:
                        yield out
        finally:
            stream.close()

    @staticmethod
    def _python_csv(
        body: ObjectBody, lay: _Layout, delimiter: str, q: QuarantineSink, batch_rows: int, skip: int
    ) -> Iterator[pa.RecordBatch]:
        """Python's ``csv`` reader: exact record numbers and raw text for every kind of malformed input."""
        batch_rows = min(batch_rows, _PYTHON_BATCH)
        stream = body.stream()
        try:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
            tap = _LineTap(iter(text))
            reader = csv.reader(tap, delimiter=delimiter)
            header: list[str] | None = None
            width = len(lay.names)
            rows: list[list[str]] = []
            raws: list[str] = []
            numbers: list[int] = []
            record = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    if header is None:
                        raise UnreadableObject(f"header is not CSV: {e}") from None
                    record += 1
                    raw = tap.take()
                    if record > skip:
                        q.read += 1
                        q.add(record, raw, f"malformed CSV record: {e}")
                    continue
                except UnreadableObject:
                    # The object broke (truncated gzip): keep the records read so far, then report it.
                    if rows:
                        out = _rows_batch(lay, rows, raws, numbers, q)
                        if out is not None:
                            yield out
                    raise
                raw = tap.take()
                if not row:
                    continue  # a blank line is not a record
                if header is None:
                    header = row
                    continue
                record += 1
                if record <= skip:
                    continue  # emitted by the fast reader before it handed over
                q.read += 1
                if len(row) > width and not any(row[width:]):
                    row = row[:width]  # trailing empty fields (a comma after the last value) carry nothing
                if len(row) != width:
                    q.add(record, raw, f"expected {width} fields, found {len(row)}")
                    continue
                if row == header:
                    q.add(record, raw, "repeated header line")
                    continue
                rows.append(row)
                raws.append(raw)
                numbers.append(record)
                if len(rows) >= batch_rows:
                    out = _rows_batch(lay, rows, raws, numbers, q)
                    rows, raws, numbers = [], [], []
                    if out is not None:
                        yield out
            if rows:
                out = _rows_batch(lay, rows, raws, numbers, q)
                if out is not None:
                    yield out
        finally:
            stream.close()

    # ---- Parquet --------------------------------------------------------------------------------------------
    def _parse_parquet(
        self, body: ObjectBody, obj: SourceObject, q: QuarantineSink, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        f = body.seekable()
        try:
            try:
                pf = pq.ParquetFile(f)
                names = pf.schema_arrow.names
            except (pa.ArrowException, OSError, ValueError) as e:
                raise UnreadableObject(f"not a readable Parquet file: {e}") from None
            lay = _Layout.build(names, obj.key)
            batches = pf.iter_batches(batch_size=batch_rows)
            done = 0
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError, ValueError) as e:
                    raise UnreadableObject(f"cannot read Parquet CUR after {done} rows: {e}") from None
                n = batch.num_rows
                if n == 0:
                    continue
                q.read += n
                base = done

                def raw(i: int, batch: pa.RecordBatch = batch) -> str:
                    # Only the values present: quarantined raw text is cut at 2 KB and CUR rows are wide.
                    row = {k: v for k, v in batch.slice(i, 1).to_pylist()[0].items() if v not in (None, "", [])}
                    return json.dumps(row, default=str, ensure_ascii=False)

                out = _emit(lay, batch.column, n, lambda i, base=base: base + i + 1, raw, q)
                done += n
                if out is not None:
                    yield out
        finally:
            f.close()


PARSER = CurParser()
