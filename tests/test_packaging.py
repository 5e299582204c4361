"""Deployable artefacts (``make package``, ``tools/package.py``): the Lambda zips and layers, the wheel, the Glue
scripts, the SageMaker source bundle and the manifest Terraform reads.

"Clean", for the Lambda checks: a virtual environment made with ``python -m venv`` (no system site packages, no
pip, nothing installed), run from a temporary folder with an environment that names only ``PATH``, fake AWS
settings and ``PYTHONPATH`` = what Lambda puts on ``sys.path``: the function's unzipped zip (``/var/task``) and its
layers' unzipped ``python/`` folders (``/opt/python``), in that order. Each check asserts that every module the
interpreter loaded came from those folders or the standard library, so a handler that imports here imports from
its artefacts alone, not from this checkout or this environment. The layers are built for this platform
(``--local-layer``: the locked versions installed here, copied) because the test runs offline; ``make package``
builds them for the Lambda runtime (manylinux, Python 3.12) from the index.

The SageMaker bundle's scripts train and score from its wheel in a clean virtual environment that sees this
environment's third-party packages but not the library."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
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


# ---- Lambda, Glue and the manifest -------------------------------------------------------------------------------
SOURCES = ("src", "lambdas", "glue_jobs", "sagemaker", "state_machines", "tools")
FILES = ("pyproject.toml", "README.md", "requirements.lock")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """The sources as they are now: both builds read the same files even if the checkout changes meanwhile."""
    root = tmp_path_factory.mktemp("snapshot")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        shutil.copytree(ROOT / name, root / name, symlinks=True, ignore=ignore)
    for name in FILES:
        shutil.copy2(ROOT / name, root / name)
    return root


def _build(snapshot: Path, out: Path, layers: str = "--local-layer") -> dict:
    done = subprocess.run(
        [sys.executable, str(snapshot / "tools" / "package.py"), "--out", str(out), layers],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def built(snapshot, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("build")
    return out, _build(snapshot, out)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def unzipped(built, tmp_path_factory) -> dict[str, Path]:
    """Every zip of the build, extracted once: artefact name -> folder."""
    out, manifest = built
    root = tmp_path_factory.mktemp("unzipped")
    folders = {}
    for name in manifest["artefacts"]:
        if name.endswith(".zip"):
            with zipfile.ZipFile(out / name) as z:
                z.extractall(root / name)
            folders[name] = root / name
    return folders


# Run in the clean interpreter: import the handler module and what the manifest says its code imports; every
# loaded module must come from the function's folder, its layers or the standard library.
PROBE = """
import importlib, json, sys, sysconfig
from pathlib import Path
spec = json.loads(sys.argv[1])
handler = importlib.import_module("handler")
missing = [e for e in spec["handlers"] if not callable(getattr(handler, e.split(".", 1)[1], None))]
for name in spec["imports"]:
    importlib.import_module(name)
allowed = [Path(p).resolve() for p in spec["paths"]]
allowed += [Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib")]
strays = sorted(
    f"{name}: {file}"
    for name, module in list(sys.modules.items())
    if (file := getattr(module, "__file__", None))
    and not any(Path(file).resolve().is_relative_to(a) for a in allowed)
)
print(json.dumps({"missing": missing, "strays": strays, "handler": handler.__file__,
                  "library": sys.modules["egress_optimizer"].__file__}))
"""


def _clean_env(paths: list[Path]) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        # What handlers read when they are loaded (the ingest handler's idempotency table and lake).
        "LAKE_URI": "s3://bucket/lake",
        "IDEMPOTENCY_TABLE": "idempotency",
        "POWERTOOLS_METRICS_NAMESPACE": "EgressOptimizer",
    }


def test_the_manifest_describes_every_artefact_by_path_size_and_hash(built):
    out, manifest = built
    names = set(manifest["artefacts"])
    functions = sorted(p.parent.name for p in (ROOT / "lambdas").glob("*/handler.py"))
    assert {f"lambda-{f}.zip" for f in functions} <= names
    assert manifest["wheel"] in names and manifest["wheel"].startswith("egress_optimizer-")
    assert {"sagemaker-sourcedir.tar.gz", "glue/attribute.py"} <= names
    assert set(manifest["layers"]) <= names and manifest["layers"]
    for name, art in manifest["artefacts"].items():
        data = (out / art["path"]).read_bytes()
        digest = hashlib.sha256(data).digest()
        assert (art["size"], art["sha256"]) == (len(data), digest.hex()), name
        assert base64.b64decode(art["sha256_base64"]) == digest, name  # Terraform's source_code_hash
    for name, fn in manifest["lambdas"].items():
        assert fn["artefact"] == f"lambda-{name}.zip" and fn["handlers"], name
        assert fn["layers"] and set(fn["layers"]) <= set(manifest["layers"]), name
        assert all(name in manifest["layers"][layer]["functions"] for layer in fn["layers"])


def test_lambda_entry_points_are_read_from_the_handlers(built):
    from egress_optimizer.respond.workflow import TASKS

    _, manifest = built
    handlers = {name: fn["handlers"] for name, fn in manifest["lambdas"].items()}
    assert sorted(handlers["respond"]) == sorted(f"handler.{f}" for f in [*TASKS.values(), "start"])
    assert handlers["ingest"] == ["handler.lambda_handler"]  # not its idempotent `ingest(s3_object)`
    assert (
        handlers["detect"] == handlers["process"] == handlers["notify"] == handlers["approval"] == ["handler.handler"]
    )
    # What the code imports decides the layers: scikit-learn only where detection runs.
    with_ml = {n for n, fn in manifest["lambdas"].items() if "scikit-learn" in fn["distributions"]}
    assert with_ml == {"detect"}
    assert "pandas" not in manifest["lambdas"]["approval"]["distributions"]


def test_each_lambda_zip_holds_its_handler_at_the_root(built):
    out, manifest = built
    for name in manifest["lambdas"]:
        with zipfile.ZipFile(out / f"lambda-{name}.zip") as z:
            infos = z.infolist()
        assert "handler.py" in [i.filename for i in infos], name
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert not any("__pycache__" in i.filename for i in infos)


@pytest.mark.slow
def test_each_handler_imports_from_its_artefacts_alone_in_a_clean_venv(built, unzipped, bare_python, tmp_path):
    _, manifest = built
    for name, fn in manifest["lambdas"].items():
        paths = [unzipped[fn["artefact"]]] + [unzipped[layer] / "python" for layer in fn["layers"]]
        spec = {"handlers": fn["handlers"], "imports": fn["imports"], "paths": [str(p) for p in paths]}
        done = subprocess.run(
            [str(bare_python), "-c", PROBE, json.dumps(spec)],
            cwd=tmp_path,
            env=_clean_env(paths),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        seen = json.loads(done.stdout.splitlines()[-1])
        assert seen["missing"] == [], name
        assert seen["strays"] == [], name
        assert Path(seen["handler"]).parent == unzipped[fn["artefact"]]
        assert str(ROOT) not in seen["library"] and "python" in Path(seen["library"]).parts


def test_the_glue_script_and_the_sagemaker_bundle(built, unzipped, bare_python, tmp_path):
    out, manifest = built
    for script, job in manifest["glue"].items():
        py_compile.compile(str(out / script), cfile=str(tmp_path / "glue.pyc"), doraise=True)
        assert job["additional_python_modules"] == manifest["wheel"]
        # Its module level imports nothing beyond the standard library (pyspark and the library load in main).
        layers = [unzipped[layer] / "python" for layer in manifest["layers"]]
        probe = "import attribute, egress_optimizer.stages as s; assert callable(attribute.main) and s.build_features"
        done = subprocess.run(
            [str(bare_python), "-c", probe],
            cwd=tmp_path,
            env=_clean_env([(out / script).parent, *layers]),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    with tarfile.open(out / manifest["sagemaker"]["source_dir"]) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {*manifest["sagemaker"]["entry_points"], "requirements.txt", manifest["wheel"]}
        assert tar.extractfile("requirements.txt").read().decode().strip() == f"./{manifest['wheel']}"
        assert {m.mtime for m in members.values()} == {315532800}


@pytest.mark.slow
def test_the_same_sources_build_the_same_artefacts(snapshot, built, tmp_path):
    """A second build (without layers, to keep this quick) gives every other artefact byte for byte; the layers
    are written by the same zip writer, whose entries are sorted and dated the same every time (checked here)."""
    out, manifest = built
    again = _build(snapshot, tmp_path / "again", "--no-layer")
    rebuilt = {a["path"]: a["sha256"] for a in again["artefacts"].values()}
    first = {a["path"]: a["sha256"] for a in manifest["artefacts"].values() if a["path"] in rebuilt}
    assert rebuilt and rebuilt == first
    for layer in (p for p in out.glob("layer-*.zip")):
        with zipfile.ZipFile(layer) as z:
            names = [i.filename for i in z.infolist()]
            assert names == sorted(names) and {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ---- container images -----------------------------------------------------------------------------------------------
def _lock_blocks(text: str) -> dict[str, tuple[str, set[str]]]:
    """A requirements file's blocks: canonical name -> (its ``name==version`` pin, its hashes)."""
    from packaging.utils import canonicalize_name

    blocks: dict[str, tuple[str, set[str]]] = {}
    current = None
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            pin = line.split(" #")[0].rstrip(" \\")
            current = canonicalize_name(pin.split("==")[0])
            blocks[current] = (pin, set())
        elif current and line.strip().startswith("--hash="):
            blocks[current][1].add(line.strip().rstrip(" \\"))
    return blocks


def test_the_image_contexts_pin_exactly_what_each_function_needs(tmp_path):
    """Cheap: no wheel is built (a stand-in takes its place) and nothing is downloaded or run in Docker."""
    import ast

    package = _tools_package()
    wheel = tmp_path / "egress_optimizer-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a stand-in for the library's wheel")
    images = package.build_images(tmp_path, wheel)
    assert set(images) == set(package.IMAGE_FUNCTIONS) == {"ingest", "process", "detect"}
    lock = _lock_blocks((ROOT / "requirements.lock").read_text())
    for name, image in images.items():
        folder = tmp_path / image["context"]
        assert image["context"] == f"images/{name}" and image["dockerfile"] == f"images/{name}/Dockerfile"
        dockerfile = (folder / "Dockerfile").read_text()
        assert dockerfile.count("\nFROM ") == 1 and "\nFROM public.ecr.aws/lambda/python:3.12\n" in dockerfile
        # The command is the handler's one entry point, a function of the handler file copied into the image.
        commands = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
        assert commands == [f'CMD ["{image["command"][0]}"]'], name
        module, function = image["command"][0].split(".")
        handler = folder / "function" / f"{module}.py"
        assert handler.read_bytes() == (ROOT / "lambdas" / name / "handler.py").read_bytes()
        tree = ast.parse(handler.read_text())
        assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, name
        assert "COPY function/ ${LAMBDA_TASK_ROOT}/" in dockerfile
        # requirements.txt: requirements.lock's blocks (pin and hashes) of exactly the function's distributions.
        wanted = package.lambda_needs(ROOT / "lambdas" / name, package.RUNTIME_MARKERS).distributions
        pinned = _lock_blocks((folder / "requirements.txt").read_text())
        assert sorted(pinned) == sorted(wanted) == image["distributions"], name
        for dist, (pin, hashes) in pinned.items():
            assert dist in lock and pin == lock[dist][0], f"{name}: {pin} is not requirements.lock's pin"
            assert hashes and hashes <= lock[dist][1], f"{name}: {dist}'s hashes are not requirements.lock's"
        assert "egress-optimizer" not in pinned
        # The library: the wheel beside the Dockerfile, installed at its hash; pip checks every hash.
        assert (folder / wheel.name).read_bytes() == wheel.read_bytes()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert (folder / "library.txt").read_text() == f"/tmp/build/{wheel.name} --hash=sha256:{digest}\n"
        assert dockerfile.count("--require-hashes") == 2 and "-r /tmp/build/requirements.txt" in dockerfile
        # Every file of the context is listed with its hash; the tag is the context's digest.
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert files == set(image["files"])
        assert all(hashlib.sha256((folder / f).read_bytes()).hexdigest() == h for f, h in image["files"].items())
        assert image["tag"] == image["context_sha256"][:16] and image["tag"] in dockerfile
    # What the code imports decides: scikit-learn only in detect's image, awswrangler only in ingest's.
    assert {n for n, i in images.items() if "scikit-learn" in i["distributions"]} == {"detect"}
    assert {n for n, i in images.items() if "awswrangler" in i["distributions"]} == {"ingest"}
    # The same sources give the same contexts, hence the same tags.
    again = package.build_images(tmp_path / "again", wheel)
    assert {n: i["tag"] for n, i in again.items()} == {n: i["tag"] for n, i in images.items()}


def test_the_manifest_records_the_image_contexts(built):
    out, manifest = built
    package = _tools_package()
    assert set(manifest["images"]) == set(package.IMAGE_FUNCTIONS)
    for name, image in manifest["images"].items():
        assert manifest["lambdas"][name]["image"] == image["context"]
        assert image["command"] == manifest["lambdas"][name]["handlers"]
        assert (out / image["context"] / manifest["wheel"]).read_bytes() == (out / manifest["wheel"]).read_bytes()
        for file, sha in image["files"].items():
            assert hashlib.sha256((out / image["context"] / file).read_bytes()).hexdigest() == sha, (name, file)
    others = set(manifest["lambdas"]) - set(manifest["images"])
    assert others and all(manifest["lambdas"][n]["image"] is None for n in others)
    # Over 250 MB with its layers is a problem only for a function that does not deploy as an image.
    assert not any(p.startswith(tuple(f"lambda {n}:" for n in manifest["images"])) for p in manifest["problems"])


def test_layers_split_by_the_functions_that_need_them_only_when_one_would_not_fit():
    package = _tools_package()

    def needs(name, dists):
        return package.LambdaNeeds(name, ["handler.handler"], [], dists, [])

    fns = [needs("a", ["boto3"]), needs("b", ["boto3", "pandas"]), needs("c", ["boto3", "pandas", "scikit-learn"])]
    small = {"boto3": 10, "pandas": 10, "scikit-learn": 10, "egress-optimizer": 1}
    assert package.plan_layers(fns, small) == {
        "layer-egress.zip": ["boto3", "egress-optimizer", "pandas", "scikit-learn"]
    }
    big = {"boto3": 20 * 2**20, "pandas": 90 * 2**20, "scikit-learn": 160 * 2**20, "egress-optimizer": 2**20}
    assert package.plan_layers(fns, big) == {
        "layer-egress-core.zip": ["boto3", "egress-optimizer"],
        "layer-egress-ml.zip": ["scikit-learn"],
        "layer-egress-pandas.zip": ["pandas"],
    }
