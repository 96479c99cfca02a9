"""Run a pipeline stage: offline by default, clean error for bad input, wall time in the metrics."""
from __future__ import annotations

import os
import sys
import time
import traceback

from .fileio import InputError


def run_stage(main) -> None:
    """Call `main()`; an InputError becomes `error: <message>` on stderr and exit status 1, without a traceback."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    try:
        main()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # noqa: BLE001 - keep the traceback for real bugs, but exit non-zero
        traceback.print_exc()
        sys.exit(2)


class Timer:
    def __enter__(self):
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        self.seconds = round(time.time() - self.start, 1)
