"""Garbage-collector settings for a gateway process: fewer, cheaper collections under load.

    app = create_app(settings)
    tune_garbage_collector()        # once per process, after the app is built (harmonia serve does it)

Executing a query allocates hundreds of small dicts, lists and records per upstream page, almost
all freed by reference counting. CPython's default thresholds (700 allocations) still start a
young collection every few fields and a full one every few hundred requests, each walking every
live object. Measured on workload (b) cold with 32 requests in flight (``bench/profile.py``): 1.3 s
of the 2.7 s of CPU went to 1,351 young, 123 middle and 11 full collections; with these settings,
11 young collections and none else, 9.0 -> 6.3 ms CPU per query. ``gc.freeze()`` first moves what
start-up built (schema, settings, clients, compiled plans' code) out of every future collection.
"""

from __future__ import annotations

import gc

# Young collection every 50,000 net allocations; older generations rarely. Memory held by garbage
# cycles grows by at most that many objects between collections.
THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
