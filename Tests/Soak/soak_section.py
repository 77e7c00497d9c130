"""The critical section `locktop lock` runs in the soak, logging as soak_worker.py does.

  soak_section.py LOG WORKER KIND KEY HOLD TARGET

The holder is `locktop lock`'s own ($LOCKTOP_HOLDER). SIGTERM (sent when the wrapper dies) ends it
without a `leave`: the harness dates its end by when the process was gone.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_worker import critical_section  # noqa: E402

log_path, worker, kind, key, hold, target = sys.argv[1:7]
holder = os.environ.get("LOCKTOP_HOLDER", "?")
with open(log_path, "a", buffering=1) as log:
    def write(event):
        log.write(json.dumps(
            {"event": event, "worker": worker, "kind": kind, "key": key, "holder": holder, "t": time.monotonic(),
             "pid": os.getpid(), "section": 1}) + "\n")
        log.flush()
    write("enter")
    critical_section(os.environ["SOAK_COUNTERS"], key, float(hold))
    write("leave")
