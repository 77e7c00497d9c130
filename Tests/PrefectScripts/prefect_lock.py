"""Drives real Prefect locking for locktop's interop tests.

Uses FileSystemLockManager (Prefect 3.1+) when present, else FileSystemRecordStore (Prefect 3.0);
with LOCKTOP_HELPER=1, locktop's LocktopFileSystemLockManager (integrations/prefect).

  acquire DIR KEY HOLDER HOLD_TIMEOUT ACQUIRE_TIMEOUT   print "acquired" or "timeout"; the lock stays
  hold DIR KEY HOLDER                                   acquire, print "acquired", release when stdin closes
  release DIR KEY HOLDER                                release, print "released"
  is-locked DIR KEY                                     print "true" or "false"
  info DIR KEY                                          print the lock as Prefect parses it, as JSON
  contend DIR KEY WORK ITERATIONS                       take KEY ITERATIONS times; print a JSON summary
  timed DIR KEY SECONDS LOG                             for SECONDS, take KEY (a new uuid holder each time), hold it
                                                        50-150 ms, pause 0-60 ms; append one JSON line per hold to LOG:
                                                        pid, key, asked, acquired, released, and first_look,
                                                        created and removed: its first read of the lock file, its
                                                        touch that created it and its unlink (time.time() seconds)
  transaction DIR KEY                                   a SERIALIZABLE transaction on KEY (3.1+); print "acquired PID",
                                                        commit when stdin closes
  nested DIR KEY1 KEY2                                  a SERIALIZABLE transaction on KEY1; print "acquired KEY1";
                                                        when stdin closes, one on KEY2 inside it, with no acquire
                                                        timeout; print "acquired KEY2" once in
"""
import json
import os
import sys
import time
import uuid
from pathlib import Path

if os.environ.get("LOCKTOP_HELPER") == "1":
    from locktop_prefect import LocktopFileSystemLockManager as Manager
else:
    try:
        from prefect.locking.filesystem import FileSystemLockManager as Manager
    except ImportError:
        from prefect.records.filesystem import FileSystemRecordStore as Manager


def manager(directory):
    return Manager(Path(directory))


def parse_float(text):
    return None if text in ("", "none", "None") else float(text)


def critical_section(work):
    marker = os.path.join(work, "inside")
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        alone = True
    except FileExistsError:
        alone = False
    counter = os.path.join(work, "counter")
    try:
        with open(counter) as f:
            current = int(f.read() or 0)
    except FileNotFoundError:
        current = 0
    time.sleep(0.0002)
    with open(counter, "w") as f:
        f.write(str(current + 1))
    if alone:
        os.unlink(marker)
    return alone


def main():
    command, directory = sys.argv[1], sys.argv[2]
    m = manager(directory)
    if command == "acquire":
        key, holder = sys.argv[3], sys.argv[4]
        ok = m.acquire_lock(key, holder=holder, hold_timeout=parse_float(sys.argv[5]),
                            acquire_timeout=parse_float(sys.argv[6]))
        print("acquired" if ok else "timeout", flush=True)
    elif command == "hold":
        key, holder = sys.argv[3], sys.argv[4]
        m.acquire_lock(key, holder=holder)
        print("acquired", flush=True)
        sys.stdin.read()
        m.release_lock(key, holder=holder)
    elif command == "release":
        m.release_lock(sys.argv[3], holder=sys.argv[4])
        print("released", flush=True)
    elif command == "is-locked":
        print("true" if m.is_locked(sys.argv[3]) else "false", flush=True)
    elif command == "info":
        info = m._get_lock_info(sys.argv[3], use_cache=False)
        expiration = info["expiration"]
        print(json.dumps({"holder": info["holder"],
                          "expiration": None if expiration is None else expiration.timestamp()}), flush=True)
    elif command == "contend":
        key, work, iterations = sys.argv[3], sys.argv[4], int(sys.argv[5])
        holder = str(uuid.uuid4())
        overlaps, errors, done = 0, [], 0
        while done < iterations:
            try:
                if not m.acquire_lock(key, holder=holder):
                    continue
            except Exception as error:  # Prefect's own races: an empty file read mid-write, and the like
                errors.append(type(error).__name__)
                time.sleep(0.001)
                continue
            if not critical_section(work):
                overlaps += 1
            m.release_lock(key, holder=holder)
            done += 1
        print(json.dumps({"iterations": iterations, "overlaps": overlaps, "prefect_errors": errors}), flush=True)
    elif command == "timed":
        import random
        key, seconds, log = sys.argv[3], float(sys.argv[4]), sys.argv[5]
        rng = random.Random(os.getpid())
        # What the worker did, timed at the calls the watcher sees: its reads of the lock file
        # (Prefect's _get_lock_info) and its creation of it (Path.touch).
        looks, touches = [], []
        read_lock = m._get_lock_info

        def timed_read(*args, **kwargs):
            try:
                return read_lock(*args, **kwargs)
            finally:
                looks.append(time.time())

        m._get_lock_info = timed_read
        touch = Path.touch

        def timed_touch(self, *args, **kwargs):
            touch(self, *args, **kwargs)
            touches.append(time.time())

        Path.touch = timed_touch
        removals = []
        unlink = Path.unlink

        def timed_unlink(self, *args, **kwargs):
            unlink(self, *args, **kwargs)
            removals.append(time.time())

        Path.unlink = timed_unlink
        end = time.time() + seconds
        with open(log, "a") as out:
            while time.time() < end:
                holder = str(uuid.uuid4())
                looks.clear()
                touches.clear()
                removals.clear()
                asked = time.time()
                # A retry after one of Prefect's own races (an empty file read mid-write) is the same wait.
                while True:
                    try:
                        if m.acquire_lock(key, holder=holder):
                            break
                    except Exception:
                        time.sleep(0.001)
                acquired = time.time()
                time.sleep(rng.uniform(0.05, 0.15))
                released = time.time()
                m.release_lock(key, holder=holder)
                out.write(json.dumps({"pid": os.getpid(), "key": key, "asked": asked, "acquired": acquired,
                                      "released": released, "first_look": looks[0] if looks else None,
                                      "created": touches[-1] if touches else None,
                                      "removed": removals[-1] if removals else None}) + "\n")
                out.flush()
                time.sleep(rng.uniform(0, 0.06))
    elif command in ("transaction", "nested"):
        from prefect.filesystems import LocalFileSystem
        from prefect.results import ResultStore
        from prefect.transactions import IsolationLevel, transaction

        store = ResultStore(lock_manager=m, metadata_storage=LocalFileSystem(basepath=os.path.join(directory, ".metadata")))
        with transaction(key=sys.argv[3], isolation_level=IsolationLevel.SERIALIZABLE, store=store):
            print("acquired", os.getpid() if command == "transaction" else sys.argv[3], flush=True)
            sys.stdin.read()
            if command == "nested":
                with transaction(key=sys.argv[4], isolation_level=IsolationLevel.SERIALIZABLE, store=store):
                    print("acquired", sys.argv[4], flush=True)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
