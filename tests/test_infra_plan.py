"""The example root plans, against mocked AWS providers (``terraform test``, infra/envs/example/tests): no credentials,
no calls. `terraform validate` cannot see a ``count`` or ``for_each`` that depends on values known only after apply,
a failing precondition or a value of the wrong shape passed between modules; a plan does. The manifest the root reads
is built here by ``tools/package.py --no-layer`` (the zips, images' contexts, wheel and bundles, without layers);
a second run without any build fails on the preconditions that say to run ``make package``.

Needs terraform on PATH and the AWS provider in a filesystem mirror (``TF_PLUGIN_DIR``, else ``/opt/tf-plugins``):
tests stay offline, so without them this skips and says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "infra" / "envs" / "example"
PLUGINS = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))


def _terraform(args: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["terraform", *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_example_root_plans_with_mocked_providers(tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    if not (PLUGINS / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no AWS provider in a filesystem mirror at {PLUGINS} (set TF_PLUGIN_DIR); tests stay offline")
    build = tmp_path / "build"
    subprocess.run([sys.executable, str(ROOT / "tools" / "package.py"), "--out", str(build), "--no-layer"],
                   check=True, capture_output=True)  # fmt: skip
    # A copy of what the root reads (Terraform writes its lock file beside the root; the checkout stays untouched).
    for folder in ("infra", "state_machines"):
        shutil.copytree(ROOT / folder, tmp_path / "repo" / folder, ignore=shutil.ignore_patterns(".terraform*"))
    root = tmp_path / "repo" / EXAMPLE.relative_to(ROOT)
    rc = tmp_path / "terraformrc"
    rc.write_text("")
    env = {**os.environ, "TF_DATA_DIR": str(tmp_path / "tf"), "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1"}
    init = _terraform(["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PLUGINS}"], root, env)
    assert init.returncode == 0, init.stdout + init.stderr
    planned = _terraform(["test", "-no-color", f"-var=build_dir={build}"], root, env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "2 passed, 0 failed" in planned.stdout
