CREATE EXTERNAL TABLE IF NOT EXISTS `explanations` (
  `at` timestamp,
  `account_id` string,
  `region` string,
  `incident_id` string,
  `category` string,
  `confidence` double,
  `source` string,
  `summary` string,
  `action_ids` string,
  `evidence_ids` string,
  `evidence` string
)
PARTITIONED BY (
  `dt` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '${LAKE_LOCATION}/explanations/'
TBLPROPERTIES (
  'classification'='parquet',
  'parquet.compression'='ZSTD',
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.range'='2015-01-01,NOW',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='${LAKE_LOCATION}/explanations/dt=${dt}/'
)
