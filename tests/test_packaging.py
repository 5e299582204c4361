"""Deployable artefacts: the SageMaker source bundle carries the library as a wheel, and its scripts train and
score from that wheel in a clean virtual environment (not from this checkout)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _tools_package():
    return load_script(ROOT / "tools" / "package.py", "package")


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory) -> Path:
    """A new virtual environment that sees this environment's third-party packages but not the library."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path in a .pth file: the dependencies resolve, the editable install's own .pth is not run.
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run([str(python), "-c", "import egress_optimizer"], capture_output=True, text=True)
    assert probe.returncode != 0, "the clean environment must not see the checkout's library"
    return venv


def test_the_sagemaker_bundle_trains_and_scores_from_its_own_wheel(clean_venv, features_lake, tmp_path):
    package = _tools_package()
    wheel = package.build_wheel(tmp_path / "dist")
    bundle = package.sagemaker_bundle(tmp_path, wheel)
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        ["inference.py", "requirements.txt", "train.py", wheel.name]
    )
    assert (tmp_path / "sagemaker-sourcedir.tar.gz").exists()
    python = clean_venv / "bin" / "python"
    # What the SKLearn container does first: install the source directory's requirements.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "-r", "requirements.txt"],
        cwd=bundle,
        check=True,
    )
    where = subprocess.run(
        [str(python), "-c", "import egress_optimizer; print(egress_optimizer.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert str(clean_venv) in where and str(ROOT) not in where

    channel = tmp_path / "train"
    shutil.copytree(Path(features_lake) / "egress_hourly", channel)
    model_dir = tmp_path / "model"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(SM_CHANNEL_TRAIN=str(channel), SM_MODEL_DIR=str(model_dir), SM_OUTPUT_DIR=str(tmp_path / "out"))
    trained = subprocess.run(
        [str(python), "train.py", "--mode", "baseline"], cwd=bundle, env=env, capture_output=True, text=True
    )
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout.splitlines()[-1])["series"] > 0

    import pandas as pd

    rows = pd.read_parquet(channel).drop(columns=["account", "aws_region", "dt"], errors="ignore")
    rows["hour"] = rows["hour"].astype(str)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"rows": rows.to_dict("records"), "score_hours": 24}, default=str))
    script = (
        "import sys, json, inference as i, egress_optimizer;"
        "assert sys.argv[3] in egress_optimizer.__file__;"
        "m = i.model_fn(sys.argv[1]); body = open(sys.argv[2]).read();"
        "out, ct = i.output_fn(i.predict_fn(i.input_fn(body, 'application/json'), m), 'application/json');"
        "print(out)"
    )
    scored = subprocess.run(
        [str(python), "-c", script, str(model_dir), str(request), str(clean_venv)],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
    )
    assert scored.returncode == 0, scored.stderr
    assert "incidents" in json.loads(scored.stdout)
