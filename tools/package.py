"""Build the deployable artefacts from the library: the wheel, and the SageMaker source bundle.

The SageMaker scikit-learn container (framework 1.4-2, Python 3.12) runs ``train.py`` / ``inference.py`` from
the source directory and installs its ``requirements.txt`` first; the bundle's requirements name the library's
wheel, which travels inside the bundle, so the scripts import exactly the code that was tested.

Usage: python tools/package.py [--out build]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAGEMAKER_SCRIPTS = ("train.py", "inference.py")


def build_wheel(out: Path) -> Path:
    """The library as a wheel in ``out``, built without network from a copy of the sources (setuptools
    leaves build/ and egg-info folders where it builds: not in the checkout)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("egress_optimizer-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "source"
        shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        subprocess.run([*pip, "-w", str(out), str(src)], check=True)
    (wheel,) = out.glob("egress_optimizer-*.whl")
    return wheel


def sagemaker_bundle(out: Path, wheel: Path) -> Path:
    """``out/sagemaker/``: the entry scripts, the wheel and a requirements file naming it; and the same folder
    as ``out/sagemaker-sourcedir.tar.gz`` (what an estimator's ``source_dir`` may point at on S3)."""
    bundle = out / "sagemaker"
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    for script in SAGEMAKER_SCRIPTS:
        shutil.copy2(ROOT / "sagemaker" / script, bundle / script)
    shutil.copy2(wheel, bundle / wheel.name)
    (bundle / "requirements.txt").write_text(f"./{wheel.name}\n", encoding="utf-8")
    archive = out / "sagemaker-sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(bundle.iterdir()):
            tar.add(path, arcname=path.name)
    return bundle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build")
    args = ap.parse_args(argv)
    wheel = build_wheel(args.out / "dist")
    bundle = sagemaker_bundle(args.out, wheel)
    print(f"wheel: {wheel}\nsagemaker source bundle: {bundle} (and {args.out / 'sagemaker-sourcedir.tar.gz'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
