"""Versioned model artifacts in the lake: ``models/egress-detector/<version>/model.tar.gz`` + metadata.

The tarball is what SageMaker expects (``model.joblib`` inside); ``metadata.json`` beside it records the
training window, the signals, the parameters, the training metrics and the tarball's SHA-256, which is
checked before anything is unpickled. ``models/egress-detector/latest.json`` names the current version.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import joblib

from egress_optimizer.detection.detector import EgressDetector
from egress_optimizer.detection.signals import SIGNALS
from egress_optimizer.errors import InputError
from egress_optimizer.lake import Lake

PREFIX = "models/egress-detector"
MODEL_FILE = "model.joblib"


def pack(detector: EgressDetector, metadata: dict) -> bytes:
    """A model.tar.gz holding ``model.joblib`` and ``metadata.json``."""
    buf = io.BytesIO()
    model = io.BytesIO()
    joblib.dump(detector, model)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in ((MODEL_FILE, model.getvalue()), ("metadata.json", json.dumps(metadata).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0  # reproducible archives
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def unpack(data: bytes) -> tuple[EgressDetector, dict]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        if MODEL_FILE not in members:
            raise InputError("model archive has no model.joblib")
        detector = joblib.load(io.BytesIO(tar.extractfile(members[MODEL_FILE]).read()))
        meta = json.loads(tar.extractfile(members["metadata.json"]).read()) if "metadata.json" in members else {}
    if not isinstance(detector, EgressDetector):
        raise InputError("model archive does not hold an egress detector")
    return detector, meta


def check_signals(meta: dict) -> None:
    """A model is only valid for the signals it was trained on; an older one must be retrained, not guessed at."""
    trained = meta.get("signals")
    if trained is not None and list(trained) != list(SIGNALS):
        raise InputError(
            f"model {meta.get('version', '')} was trained on signals {trained}; this version computes {SIGNALS}: "
            "run `egress train` again"
        )


def load_model_dir(model_dir: str | Path) -> tuple[EgressDetector, dict]:
    """Load from a SageMaker-style model directory (``model.joblib`` and ``metadata.json``)."""
    model_dir = Path(model_dir)
    detector = joblib.load(model_dir / MODEL_FILE)
    meta_path = model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    check_signals(meta)
    return detector, meta


def save(lake: Lake, detector: EgressDetector, metadata: dict) -> dict:
    """Write a new version and point ``latest.json`` at it; returns the stored metadata."""
    created = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = dict(metadata, created_at=created)
    blob = pack(detector, meta)
    digest = hashlib.sha256(blob).hexdigest()
    version = f"{created}-{digest[:8]}"
    meta.update(version=version, sha256=digest, artifact=f"{PREFIX}/{version}/model.tar.gz")
    lake.write_bytes(f"{PREFIX}/{version}/model.tar.gz", blob)
    lake.write_json(f"{PREFIX}/{version}/metadata.json", meta)
    lake.write_json(f"{PREFIX}/latest.json", {"version": version})
    return meta


def load(lake: Lake, version: str | None = None) -> tuple[EgressDetector, dict]:
    if version is None:
        if not lake.exists(f"{PREFIX}/latest.json"):
            raise InputError(f"no trained model in lake {lake.root!r}: run `egress train --lake {lake.root}` first")
        version = lake.read_json(f"{PREFIX}/latest.json")["version"]
    meta = lake.read_json(f"{PREFIX}/{version}/metadata.json")
    check_signals(meta)
    # compression=None: pyarrow would otherwise gunzip a .gz path on the fly and the checksum would differ.
    with lake.fs.open_input_stream(lake.path(f"{PREFIX}/{version}/model.tar.gz"), compression=None) as f:
        blob = f.read()
    if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise InputError(f"model {version}: archive checksum does not match its metadata; refusing to load it")
    detector, _ = unpack(blob)
    return detector, meta
