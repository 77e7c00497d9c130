"""One soak worker: takes random keys in a loop and logs each critical section.

  soak_worker.py KIND ID LOG SEED TARGET LOCKTOP

KIND is prefect-3.0 (FileSystemRecordStore), prefect-fs (FileSystemLockManager), helper-fs
(LocktopFileSystemLockManager), prefect-redis (RedisLockManager), helper-redis
(LocktopRedisLockManager), locktop-lock or locktop-lock-redis (`locktop lock` around
soak_section.py). TARGET is the locks directory, or the Redis URL. Every line of LOG is one JSON
object, flushed at once, with `time.monotonic()` stamps (one clock for every process here):
`enter` and `leave` of a section (`holder`, `key`, `pid`, and `section`, its number in the process), `lost` when the release found the lock
taken from it, and `error` for a failed attempt (its type, so that 3.0's own JSONDecodeError is
counted apart).
"""
import json
import os
import random
import subprocess
import sys
import time
import uuid

KEYS = int(os.environ.get("SOAK_KEYS", "4"))


def main():
    kind, worker, log_path, seed, target, locktop = sys.argv[1:7]
    rng = random.Random(f"{seed}-{worker}")
    log = open(log_path, "a", buffering=1)

    def write(**fields):
        fields.update(worker=worker, kind=kind, t=time.monotonic(), pid=os.getpid())
        log.write(json.dumps(fields) + "\n")
        log.flush()

    section = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak_section.py")
    manager = make_manager(kind, target)
    serial = 0
    while True:
        redis_kind = kind in ("prefect-redis", "helper-redis", "locktop-lock-redis")
        key = f"{'r' if redis_kind else 'k'}{rng.randrange(KEYS)}"
        hold = rng.uniform(0.02, 0.3)
        try:
            if kind.startswith("locktop-lock"):
                store = ["--redis", target] if redis_kind else ["--dir", target]
                outcome = subprocess.run(
                    [locktop, "lock", *store, "--wait", "2", key, "--", sys.executable, section, log_path,
                     worker, kind, key, str(hold), target],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if outcome.returncode not in (0, 75):
                    write(event="exit", status=outcome.returncode, stderr=outcome.stderr.decode()[-300:])
            else:
                holder = holder_for(kind, manager)
                if not acquire(kind, manager, key, holder):
                    continue
                serial += 1
                write(event="enter", key=key, holder=holder, section=serial)
                critical_section(os.environ["SOAK_COUNTERS"], key, hold)
                write(event="leave", key=key, holder=holder, section=serial)
                release(manager, key, holder, write)
        except Exception as error:
            write(event="error", error=type(error).__name__, detail=str(error)[:200])
            time.sleep(0.2)
        time.sleep(rng.uniform(0, 0.15))


def make_manager(kind, target):
    from pathlib import Path
    if kind == "prefect-3.0":
        from prefect.records.filesystem import FileSystemRecordStore
        return FileSystemRecordStore(records_directory=Path(target))
    if kind == "prefect-fs":
        from prefect.locking.filesystem import FileSystemLockManager
        return FileSystemLockManager(lock_files_directory=Path(target))
    if kind == "helper-fs":
        from locktop_prefect import LocktopFileSystemLockManager
        return LocktopFileSystemLockManager(lock_files_directory=Path(target))
    if kind == "prefect-redis":
        from prefect_redis import RedisLockManager
        return RedisLockManager(connection_url=target)
    if kind == "helper-redis":
        from locktop_prefect.redis import LocktopRedisLockManager
        return LocktopRedisLockManager(connection_url=target)
    return None


def holder_for(kind, manager):
    # Prefect 3.0's own default (host:pid:thread:name); a transaction's uuid4 from 3.4.11 on.
    if kind == "prefect-3.0":
        return manager.generate_default_holder()
    return str(uuid.uuid4())


def release(manager, key, holder, write):
    """Releases, retrying while Redis is down (a restart): a holder that moved on must not leave its
    lock behind. A lock broken or taken meanwhile is `lost`: the holder's own view of a break."""
    try:
        manager.release_lock(key, holder)
    except Exception as error:
        if type(error).__name__ not in ("ConnectionError", "TimeoutError", "BusyLoadingError"):
            write(event="lost", key=key, holder=holder, error=type(error).__name__, detail=str(error)[:200])
            return
        # prefect-redis forgets the lock before the call that failed: it cannot retry. Its key stays
        # behind; delete it as its release would have (compare-and-delete), once Redis is back.
        write(event="release-failed", key=key, holder=holder, error=type(error).__name__)
        import redis
        client = redis.Redis.from_url(os.environ["SOAK_REDIS_URL"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.eval(COMPARE_AND_DELETE, 1, f"lock:{key}", holder)
                write(event="released-after-failure", key=key, holder=holder)
                return
            except redis.exceptions.RedisError:
                time.sleep(0.2)
        write(event="leaked", key=key, holder=holder)


COMPARE_AND_DELETE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"



def acquire(kind, manager, key, holder):
    return manager.acquire_lock(key, holder=holder, acquire_timeout=2)


def critical_section(directory, key, hold):
    """A read-modify-write of the key's counter, with a hold in the middle."""
    counter = os.path.join(directory, f"counter-{key}")
    try:
        with open(counter) as f:
            current = int(f.read() or 0)
    except (FileNotFoundError, ValueError):
        current = 0
    time.sleep(hold)
    with open(counter + ".tmp", "w") as f:
        f.write(str(current + 1))
    os.replace(counter + ".tmp", counter)


if __name__ == "__main__":
    main()
