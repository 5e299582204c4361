CREATE EXTERNAL TABLE IF NOT EXISTS `cur` (
  `cur_version` string,
  `billing_period` string,
  `payer_account_id` string,
  `usage_account_id` string,
  `line_item_id` string,
  `time_interval` string,
  `line_item_type` string,
  `usage_start` timestamp,
  `usage_end` timestamp,
  `product_code` string,
  `usage_type` string,
  `operation` string,
  `resource_id` string,
  `availability_zone` string,
  `usage_amount` double,
  `unblended_rate` double,
  `unblended_cost` double,
  `blended_cost` double,
  `net_unblended_cost` double,
  `public_on_demand_cost` double,
  `currency` string,
  `description` string,
  `product_family` string,
  `servicecode` string,
  `region_code` string,
  `from_location` string,
  `from_location_type` string,
  `from_region_code` string,
  `to_location` string,
  `to_location_type` string,
  `to_region_code` string,
  `transfer_type` string,
  `pricing_unit` string,
  `resource_tags` map<string,string>,
  `cost_category` map<string,string>,
  `extra` map<string,string>
)
PARTITIONED BY (
  `account` string,
  `aws_region` string,
  `dt` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '${LAKE_LOCATION}/cur/'
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
  'storage.location.template'='${LAKE_LOCATION}/cur/account=${account}/aws_region=${aws_region}/dt=${dt}/'
)
