CREATE EXTERNAL TABLE IF NOT EXISTS `savings` (
  `generated_at` timestamp,
  `account_id` string,
  `region` string,
  `kind` string,
  `title` string,
  `method` string,
  `current_monthly_usd` double,
  `proposed_monthly_usd` double,
  `monthly_savings_usd` double,
  `confidence` string
)
PARTITIONED BY (
  `dt` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '${LAKE_LOCATION}/savings/'
TBLPROPERTIES (
  'classification'='parquet',
  'parquet.compression'='ZSTD',
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.range'='2015-01-01,NOW',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='${LAKE_LOCATION}/savings/dt=${dt}/'
)
