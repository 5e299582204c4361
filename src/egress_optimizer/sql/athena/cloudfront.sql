CREATE EXTERNAL TABLE IF NOT EXISTS `cloudfront` (
  `timestamp` timestamp,
  `edge_location` string,
  `sc_bytes` bigint,
  `c_ip` string,
  `cs_method` string,
  `cs_host` string,
  `cs_uri_stem` string,
  `sc_status` int,
  `cs_referer` string,
  `cs_user_agent` string,
  `cs_uri_query` string,
  `cs_cookie` string,
  `edge_result_type` string,
  `edge_request_id` string,
  `host_header` string,
  `cs_protocol` string,
  `cs_bytes` bigint,
  `time_taken` double,
  `forwarded_for` string,
  `ssl_protocol` string,
  `ssl_cipher` string,
  `edge_response_result_type` string,
  `cs_protocol_version` string,
  `fle_status` string,
  `fle_encrypted_fields` string,
  `c_port` int,
  `time_to_first_byte` double,
  `edge_detailed_result_type` string,
  `sc_content_type` string,
  `sc_content_len` bigint,
  `sc_range_start` bigint,
  `sc_range_end` bigint,
  `c_country` string,
  `distribution_id` string,
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
LOCATION '${LAKE_LOCATION}/cloudfront/'
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
  'storage.location.template'='${LAKE_LOCATION}/cloudfront/account=${account}/aws_region=${aws_region}/dt=${dt}/'
)
