"""A real Prefect flow whose cached task runs under SERIALIZABLE isolation, locked through
locktop's helper (integrations/prefect).

  helper_flow.py LOCKS_DIR SECONDS   run the flow: the task prints "inside PID", sleeps SECONDS, returns 42
"""
import os
import sys
import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import INPUTS

from locktop_prefect import LocktopFileSystemLockManager

manager = LocktopFileSystemLockManager(lock_files_directory=Path(sys.argv[1]))


@task(cache_policy=INPUTS.configure(lock_manager=manager, isolation_level="SERIALIZABLE"))
def slow_double(x):
    print("inside", os.getpid(), flush=True)
    time.sleep(float(sys.argv[2]))
    return 2 * x


@flow(name="locktop-helper-flow")
def pipeline():
    return slow_double(21)


if __name__ == "__main__":
    print("result", pipeline(), flush=True)
