CREATE EXTERNAL TABLE IF NOT EXISTS `quarantine` (
  `source_object` string,
  `record_number` bigint,
  `raw` string,
  `reason` string
)
PARTITIONED BY (
  `source` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '${LAKE_LOCATION}/quarantine/'
TBLPROPERTIES (
  'classification'='parquet',
  'parquet.compression'='ZSTD',
  'projection.enabled'='true',
  'projection.source.type'='enum',
  'projection.source.values'='vpc-flow,s3-access,cloudfront,cur',
  'storage.location.template'='${LAKE_LOCATION}/quarantine/source=${source}/'
)
