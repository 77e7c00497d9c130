"""Drives real prefect-redis locking (RedisLockManager) for locktop's Redis interop tests; with
LOCKTOP_HELPER=1, locktop's LocktopRedisLockManager (integrations/prefect, the `redis` extra).

  acquire URL KEY HOLDER HOLD_TIMEOUT ACQUIRE_TIMEOUT   print "acquired" or "timeout", then wait for stdin to close,
                                                        then release if still held and print "released" or
                                                        "lost: <error>" (LockNotOwnedError after a break)
  transaction URL KEY                                   a SERIALIZABLE transaction on KEY (uuid4 holder, no TTL);
                                                        print "acquired", commit when stdin closes
  wait URL KEY TIMEOUT                                  wait_for_lock; print "free" or "timeout"
  contend URL KEY WORK ITERATIONS                       take KEY ITERATIONS times around critical_section.sh;
                                                        print a JSON summary
"""
import json
import os
import subprocess
import sys
import uuid

from prefect_redis import RedisLockManager

if os.environ.get("LOCKTOP_HELPER") == "1":
    from locktop_prefect.redis import LocktopRedisLockManager as RedisLockManager


def parse_float(text):
    return None if text in ("", "none", "None") else float(text)


def main():
    command, url, key = sys.argv[1], sys.argv[2], sys.argv[3]
    manager = RedisLockManager(connection_url=url)
    if command == "acquire":
        holder, hold, wait = sys.argv[4], parse_float(sys.argv[5]), parse_float(sys.argv[6])
        acquired = manager.acquire_lock(key, holder, acquire_timeout=wait, hold_timeout=hold)
        print("acquired" if acquired else "timeout", flush=True)
        if not acquired:
            return
        sys.stdin.read()
        try:
            manager.release_lock(key, holder)
            print("released", flush=True)
        except Exception as error:
            print(f"lost: {type(error).__name__}: {error}", flush=True)
    elif command == "transaction":
        from prefect.transactions import IsolationLevel, transaction
        from prefect.results import ResultStore
        from prefect.filesystems import LocalFileSystem
        import tempfile
        store = ResultStore(lock_manager=manager, result_storage=LocalFileSystem(basepath=tempfile.mkdtemp()))
        with transaction(key=key, isolation_level=IsolationLevel.SERIALIZABLE, store=store) as txn:
            print("acquired", flush=True)
            sys.stdin.read()
            txn.stage({"done": True})
    elif command == "contend":
        work, iterations = sys.argv[4], int(sys.argv[5])
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "critical_section.sh")
        holder = str(uuid.uuid4())
        for _ in range(iterations):
            manager.acquire_lock(key, holder)
            subprocess.run(["/bin/sh", script, work], check=True)
            manager.release_lock(key, holder)
        print(json.dumps({"iterations": iterations}), flush=True)
    elif command == "wait":
        free = manager.wait_for_lock(key, timeout=parse_float(sys.argv[4]))
        print("free" if free else "timeout", flush=True)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
