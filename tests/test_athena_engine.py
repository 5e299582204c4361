"""`egress query --engine athena`: the same SQL through Athena over the Glue catalog (moto, results seeded
through moto's documented query-results API, as Athena would have computed them)."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from moto import mock_aws

from egress_optimizer.cli import run

ACCOUNT, REGION = "123456789012", "us-east-1"


def _seed(rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """Queue the result of the next Athena query (header row first, as Athena returns it)."""
    doc = {
        "account_id": ACCOUNT,
        "region": REGION,
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in [[c for c, _ in columns], *rows]],
                "column_info": [
                    {
                        "CatalogName": "awsdatacatalog",
                        "SchemaName": "egress",
                        "TableName": "",
                        "Name": c,
                        "Label": c,
                        "Type": t,
                    }
                    for c, t in columns
                ],
            }
        ],
    }
    requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json=doc, timeout=5)


@pytest.fixture()
def athena(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="egress-athena-results")
        yield boto3.client("athena")


def test_query_runs_in_athena_and_prints_its_rows(athena, capsys):
    sql = "SELECT account_id, sum(cost_usd) AS usd FROM egress_hourly GROUP BY 1 ORDER BY 2 DESC"
    _seed([["111122223333", "12.5"], ["444455556666", "3.25"]], [("account_id", "varchar"), ("usd", "double")])
    args = ["query", sql, "--engine", "athena", "--database", "egress", "--output", "s3://egress-athena-results/q/"]
    assert run([*args, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"account_id": "111122223333", "usd": 12.5}, {"account_id": "444455556666", "usd": 3.25}]
    (execution_id,) = athena.list_query_executions()["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == sql
    assert execution["QueryExecutionContext"]["Database"] == "egress"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://egress-athena-results/q/")


def test_a_query_athena_fails_is_a_one_line_error(athena, capsys):
    """Athena runs the query and reports it FAILED, with its reason: moto always succeeds, so the state is
    answered the way botocore's Stubber does it (a before-call response on the session's clients)."""
    from botocore.awsrequest import AWSResponse

    reason = "SYNTAX_ERROR: line 1:8: Column 'nope' cannot be resolved"

    def failed(params, **_):
        execution = {
            "QueryExecutionId": json.loads(params["body"])["QueryExecutionId"],
            "Query": "SELECT nope",
            "Status": {"State": "FAILED", "StateChangeReason": reason},
            "ResultConfiguration": {"OutputLocation": "s3://egress-athena-results/q/x.csv"},
        }
        return AWSResponse(None, 200, {}, None), {"QueryExecution": execution}

    boto3.setup_default_session(region_name=REGION)
    boto3.DEFAULT_SESSION.events.register("before-call.athena.GetQueryExecution", failed)
    try:
        code = run(["query", "SELECT nope", "--engine", "athena", "--output", "s3://egress-athena-results/q/"])
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call.athena.GetQueryExecution", failed)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot be resolved" in err[0]
