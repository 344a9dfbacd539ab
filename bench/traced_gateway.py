"""``harmonia serve`` with tracemalloc on: ``kill -USR1 <pid>`` dumps a snapshot (bench/soak_cluster.py).

    HARMONIA_TRACEMALLOC_DIR=/tmp/snaps python -m bench.traced_gateway --port 4000

Snapshots go to ``$HARMONIA_TRACEMALLOC_DIR/snapshot-<n>.bin`` (``tracemalloc.Snapshot.load``), 1 frame
per allocation (``HARMONIA_TRACEMALLOC_FRAMES``). Tracing costs CPU and memory of its own: the soak
reads RSS from the untraced instances, growth sites from this one. A benchmark tool, never a gateway mode.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from harmonia.cli import main

taken = 0


def dump(signum: int, frame: FrameType | None) -> None:
    global taken
    directory = Path(os.environ["HARMONIA_TRACEMALLOC_DIR"])
    tracemalloc.take_snapshot().dump(str(directory / f"snapshot-{taken}.bin"))
    (directory / f"snapshot-{taken}.done").touch()
    taken += 1


if __name__ == "__main__":
    tracemalloc.start(int(os.environ.get("HARMONIA_TRACEMALLOC_FRAMES", "1")))
    signal.signal(signal.SIGUSR1, dump)
    raise SystemExit(main(["serve", *sys.argv[1:]]))
