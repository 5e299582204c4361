"""SageMaker inference handlers for the SKLearn container (``model_fn``/``input_fn``/``predict_fn``/``output_fn``).

Request: ``application/json`` with ``{"rows": [egress_hourly rows...], "planned": [windows...],
"min_impact_usd": 0}`` (or a bare list of rows), covering at least the week before the hours to score,
because the baselines need it. Response: ``application/json`` with the incidents (the incident contract) and
the anomalous rows.
"""

from __future__ import annotations

import json
from typing import Any

from egress_optimizer import stages

JSON = "application/json"


def model_fn(model_dir: str) -> Any:
    return stages.load_model(model_dir)


def input_fn(request_body: str | bytes, request_content_type: str = JSON) -> dict:
    if request_content_type.split(";")[0].strip() != JSON:
        raise ValueError(f"unsupported content type {request_content_type!r}; send {JSON}")
    body = json.loads(request_body)
    if isinstance(body, list):
        body = {"rows": body}
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
        raise ValueError('request must be a list of hourly rows or an object with a "rows" list')
    return body


def predict_fn(input_data: dict, model: Any) -> dict:
    return stages.score_request(model, input_data)


def output_fn(prediction: dict, accept: str = JSON) -> tuple[str, str]:
    if accept not in (JSON, "*/*"):
        raise ValueError(f"unsupported accept type {accept!r}; use {JSON}")
    return json.dumps(prediction, default=str), JSON
