"""Run a pipeline stage: clean error for bad input, wall time in the metrics (offline defaults: langcpt/__init__)."""
from __future__ import annotations

import os
import sys
import time
import traceback

from .fileio import InputError, redact


def run_stage(main) -> None:
    """Call `main()`; an InputError becomes `error: <message>` on stderr and exit status 1, without a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    try:
        main()
    except InputError as e:
        print(f"error: {redact(str(e))}", file=sys.stderr)  # no URL password reaches the terminal or a CI log
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
