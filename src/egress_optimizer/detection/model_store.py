"""Versioned model artifacts in the lake: ``models/egress-detector/<version>/model.tar.gz`` + metadata.

The tarball is what SageMaker expects (``model.joblib`` inside); ``metadata.json`` beside it records the
training window, the signals, the parameters, the training metrics and the tarball's SHA-256, which is
checked before anything is unpickled. ``models/egress-detector/latest.json`` names the current version.

A model trained elsewhere (SageMaker's ``model.tar.gz``) enters the store through :func:`install`, which stores it
as a new version like any other, recording where it came from.
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


def artifact_location(uri: str, allowed_prefix: str) -> tuple[str, str]:
    """Bucket and key of a model archive's ``s3://`` URI, refused unless it lies under ``allowed_prefix``
    (``s3://bucket/prefix/``): an archive gets unpickled, so where it may come from is the deployment's choice,
    never the text of an event."""
    bucket, _, base_key = allowed_prefix.removeprefix("s3://").partition("/")
    if not allowed_prefix.startswith("s3://") or not bucket or "//" in f"/{base_key}":
        raise InputError(f"model artifacts prefix {allowed_prefix!r} is not an s3://bucket/prefix/ URI")
    base = f"s3://{bucket}/{base_key.rstrip('/') + '/' if base_key else ''}"
    if not isinstance(uri, str) or not uri.startswith(base):
        raise InputError(f"model archive {uri!r} is not under the allowed prefix {base}; refusing to install it")
    key = uri[len(f"s3://{bucket}/") :]
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InputError(f"model archive {uri!r} is not a plain object key under {base}; refusing to install it")
    return bucket, key


def install(lake: Lake, archive: bytes, source: str, training_job_name: str | None = None) -> dict:
    """Store a model trained elsewhere (a SageMaker ``model.tar.gz``: ``model.joblib`` and ``metadata.json``) as a
    new version and point ``latest.json`` at it; returns the stored metadata, which records ``source`` (where the
    archive was read from), ``training_job_name`` and ``source_sha256`` (the archive's own hash; the store's
    ``sha256`` is of the archive it writes).

    Refused (:class:`InputError`, ``latest.json`` untouched) when the archive cannot be read, holds no egress
    detector, or was not trained on the signals this version computes. The same archive delivered again while it
    is still the current version is not stored twice: its metadata is returned."""
    source_sha256 = hashlib.sha256(archive).hexdigest()
    try:
        detector, meta = unpack(archive)
    except InputError as exc:
        raise InputError(f"model archive {source}: {exc}") from None
    except Exception as exc:  # a truncated or foreign archive fails in gzip, tar or unpickling, each its own way
        reason = f"{type(exc).__name__} {(str(exc).splitlines() or [''])[0]}".strip()
        raise InputError(f"model archive {source} is not a readable model.tar.gz: {reason}") from None
    if not isinstance(meta.get("signals"), list):
        raise InputError(f"model archive {source} has no metadata.json naming its signals; refusing to install it")
    try:
        check_signals(meta)
    except InputError as exc:
        raise InputError(f"model archive {source}: {exc}") from None
    if lake.exists(f"{PREFIX}/latest.json"):
        current = lake.read_json(f"{PREFIX}/{lake.read_json(f'{PREFIX}/latest.json')['version']}/metadata.json")
        if current.get("source_sha256") == source_sha256:
            return current
    trained = {k: v for k, v in meta.items() if k not in ("version", "sha256", "artifact", "created_at")}
    provenance = {"source": source, "training_job_name": training_job_name, "source_sha256": source_sha256}
    return save(lake, detector, dict(trained, **provenance))
