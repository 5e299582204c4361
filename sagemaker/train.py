"""SageMaker script-mode training for the SKLearn container: hourly features in, detector out.

Contract (as the SageMaker scikit-learn container sets it up):
- training data: Parquet files of ``egress_hourly`` under the ``train`` channel (``SM_CHANNEL_TRAIN``,
  default ``/opt/ml/input/data/train``), searched recursively (a lake prefix with partitions works);
- hyperparameters: command-line ``--mode``, ``--seed``, ``--n-estimators`` (how script mode passes them),
  with ``/opt/ml/input/config/hyperparameters.json`` read when arguments are absent;
- output: ``model.joblib`` and ``metadata.json`` in ``SM_MODEL_DIR`` (default ``/opt/ml/model``), which
  SageMaker tars into ``model.tar.gz``.
All logic is in the library; this only reads the contract.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _hyperparameters() -> dict:
    path = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"
    if not path.exists():
        return {}
    # SageMaker writes every value as a JSON string.
    return {
        k: (json.loads(v) if isinstance(v, str) and v[:1] in '0123456789-[{"' else v)
        for k, v in json.loads(path.read_text()).items()
    }


def main(argv: list[str] | None = None) -> int:
    from egress_optimizer.detection.detector import DEFAULT_MODE

    hp = _hyperparameters()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default=hp.get("mode", DEFAULT_MODE))
    p.add_argument("--seed", type=int, default=int(hp.get("seed", 0)))
    p.add_argument("--n-estimators", type=int, default=int(hp.get("n-estimators", hp.get("n_estimators", 200))))
    p.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    p.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    args = p.parse_args(argv)

    from egress_optimizer import stages

    try:
        meta = stages.train_from_files(Path(args.train), Path(args.model_dir), args.mode, args.seed, args.n_estimators)
    except ValueError as exc:
        # SageMaker shows the failure reason from /opt/ml/output/failure.
        out = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "failure").write_text(str(exc))
        except OSError:
            pass
        print(f"training failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"series": meta["series"], "hours": meta["hours"], "model_dir": args.model_dir}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
