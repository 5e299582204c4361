CREATE EXTERNAL TABLE IF NOT EXISTS `attributed` (
  `hour` timestamp,
  `account_id` string,
  `region` string,
  `product` string,
  `usage_type` string,
  `resource_id` string,
  `team` string,
  `app` string,
  `destination` string,
  `peer_region` string,
  `peer` string,
  `via` string,
  `bytes` bigint,
  `packets` bigint,
  `records` bigint,
  `gb` double,
  `cache_misses` double,
  `usd` double
)
PARTITIONED BY (
  `account` string,
  `aws_region` string,
  `dt` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '${LAKE_LOCATION}/attributed/'
TBLPROPERTIES (
  'classification'='parquet',
  'parquet.compression'='ZSTD',
  'projection.enabled'='true',
  'projection.account.type'='injected',
  'projection.aws_region.type'='enum',
  'projection.aws_region.values'='af-south-1,ap-east-1,ap-east-2,ap-northeast-1,ap-northeast-2,ap-northeast-3,ap-south-1,ap-south-2,ap-southeast-1,ap-southeast-2,ap-southeast-3,ap-southeast-4,ap-southeast-5,ap-southeast-6,ap-southeast-7,ca-central-1,ca-west-1,cn-north-1,cn-northwest-1,eu-central-1,eu-central-2,eu-north-1,eu-south-1,eu-south-2,eu-west-1,eu-west-2,eu-west-3,il-central-1,me-central-1,me-south-1,mx-central-1,sa-east-1,us-east-1,us-east-2,us-gov-east-1,us-gov-west-1,us-west-1,us-west-2,global,unknown',
  'projection.dt.type'='date',
  'projection.dt.range'='2015-01-01,NOW',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='${LAKE_LOCATION}/attributed/account=${account}/aws_region=${aws_region}/dt=${dt}/'
)
