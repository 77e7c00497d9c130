"""Load: about 1,000 lock changes a second for a while, from 8 processes on 100 keys, against
`locktop events --json` as root, and the dashboard on a pseudo-terminal of its own; then what
events saw against what the workers did. Run by scripts/soak.sh --load, as root.

Each worker takes a random free key the way locktop and the helper do (a complete temporary file
linked into place), holds it a few milliseconds and removes it, logging `(key, holder, taken,
removed)` with the monotonic clock. The second run also stops `events` in the middle while 150k
inotify events arrive, so that its queue overflows: then a `rescanned` event and a consistent end
are what count. It exits 1, naming each failure: without the overflow, a missed acquisition that
lived over 100 ms (shorter ones can come and go while `events` is off the CPU: their count and the
longest one's life are reported); with it, no `rescanned`; in either, an end state unlike the
directory's, or a key press over 50 ms at p99.
Reports: acquisitions seen as `acquired` events, event latency p50/p99/max, `events`' CPU against
its idle figure, and the dashboard's key-press-to-screen latency p50/p99: from the byte written to
its terminal to the help's first text read back from it (no terminal emulator, no polling).
"""
import argparse
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

WORKER = r'''
import json, os, random, sys, time, uuid
directory, name, seconds, rate, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rng = random.Random(name)
out = open(log, "w")
end = time.monotonic() + seconds
period = 2 / rate  # one acquisition and one release per period
while time.monotonic() < end:
    started = time.monotonic()
    key = f"key{rng.randrange(100)}"
    holder = str(uuid.uuid4())
    temporary = os.path.join(directory, f".load-{os.getpid()}.tmp")
    with open(temporary, "w") as f:
        f.write(json.dumps({"holder": holder, "expiration": None}))
    try:
        os.link(temporary, os.path.join(directory, key + ".lock"))
        taken = time.monotonic()
        time.sleep(period / 2)
        os.unlink(os.path.join(directory, key + ".lock"))
        out.write(json.dumps({"key": key, "holder": holder, "taken": taken, "removed": time.monotonic()}) + "\n")
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    left = period - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
out.close()
'''


class PseudoTerminal:
    """A program on a pseudo-terminal of COLUMNS x ROWS: keys written to it, and all it writes read
    back at once by a thread, so that its output never blocks."""

    def __init__(self, argv, env, columns, rows):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True)
        os.close(slave)
        self.output = bytearray()
        self.grew = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            with self.grew:
                if not chunk:
                    self.output = None
                    self.grew.notify_all()
                    return
                self.output += chunk
                self.grew.notify_all()

    def press(self, key, shows, timeout=2.0):
        """Writes `key`; the seconds until `shows` came back from the program, or None."""
        with self.grew:
            start = len(self.output)
            sent = time.monotonic()
            self.write(key)
            while self.output is not None and shows not in self.output[start:]:
                left = sent + timeout - time.monotonic()
                if left <= 0 or not self.grew.wait(left):
                    return None
            return time.monotonic() - sent if self.output is not None else None

    def write(self, key):
        os.write(self.master, key)

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.master)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else None


def run(locktop, seconds, overflow, processes, rate):
    root = tempfile.mkdtemp(prefix="locktop-load-")
    directory = os.path.join(root, "locks")
    os.makedirs(directory)
    state = os.path.join(root, "state")
    env = dict(os.environ, XDG_STATE_HOME=state)
    events = subprocess.Popen([locktop, "events", "--json", "--dir", directory], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    received = []

    def read():
        for line in events.stdout:
            received.append((time.monotonic(), line))
    threading.Thread(target=read, daemon=True).start()
    dashboard = PseudoTerminal([locktop, "--dir", directory], dict(env, TERM="xterm-256color", LANG="C.UTF-8"),
                               columns=160, rows=40)
    time.sleep(3)
    idle_start = (time.monotonic(), cpu_seconds(events.pid))
    time.sleep(5)
    idle_cpu = (cpu_seconds(events.pid) - idle_start[1]) / (time.monotonic() - idle_start[0])
    logs = [os.path.join(root, f"worker-{i}.jsonl") for i in range(processes)]
    busy_start = (time.monotonic(), cpu_seconds(events.pid))
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, directory, f"w{i}", str(seconds), str(rate), logs[i]])
               for i in range(processes)]
    keys = []
    if overflow:
        def flood():
            # A reader that stalls while events pile up is how a queue overflows: events is stopped
            # while 150k events arrive, far past the kernel's 16,384 a queue.
            time.sleep(seconds / 2)
            os.kill(events.pid, signal.SIGSTOP)
            for index in range(50_000):
                path = os.path.join(directory, f"flood-{index}")
                open(path, "w").close()
                os.unlink(path)
            os.kill(events.pid, signal.SIGCONT)
        threading.Thread(target=flood, daemon=True).start()
    # Key presses while the load runs: `?` opens the help, timed until its text comes back (a word
    # only the help has); Escape closes it again, untimed (what a close draws depends on the table).
    deadline = time.monotonic() + seconds - 2
    time.sleep(2)
    unanswered = 0
    while time.monotonic() < deadline:
        took = dashboard.press(b"?", b"--stale-after")
        if took is None:
            unanswered += 1
        else:
            keys.append(took)
        time.sleep(0.1)
        dashboard.write(b"\x1b")
        time.sleep(0.2)
    for worker in workers:
        worker.wait()
    busy_cpu = (cpu_seconds(events.pid) - busy_start[1]) / (time.monotonic() - busy_start[0])
    time.sleep(3)
    events.terminate()
    events.wait()
    dashboard.close()
    done = []
    for log in logs:
        with open(log) as f:
            done += [json.loads(line) for line in f]
    acquired = {}
    rescanned = False
    holding = {}  # key → holder, as the event stream tells it
    for stamp, line in received:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("type")
        if kind == "acquired":
            acquired.setdefault(event.get("holder"), stamp)
        if kind in ("acquired", "changed"):
            holding[event.get("key")] = event.get("holder")
        elif kind in ("released", "expired", "broken"):
            holding.pop(event.get("key"), None)
        rescanned = rescanned or kind == "rescanned"
    # Every worker has finished: a consistent stream ends with no lock held, as the directory has.
    left = sorted(name for name in os.listdir(directory) if name.endswith(".lock"))
    latencies = [acquired[d["holder"]] - d["taken"] for d in done if d["holder"] in acquired]
    # A lock linked and removed again while events did not run (a stall longer than the hold) was
    # never there to read: how long each missed one lived tells such a stall from a lost event.
    missed_lives = sorted(d["removed"] - d["taken"] for d in done if d["holder"] not in acquired)
    changes = 2 * len(done)
    shutil.rmtree(root, ignore_errors=True)
    return {
        "overflow": overflow, "seconds": seconds, "processes": processes,
        "lock_changes_per_second": round(changes / seconds),
        "acquisitions": len(done), "seen_as_acquired": len(latencies),
        "missed": len(done) - len(latencies), "rescanned": rescanned,
        "missed_longest_life_ms": round(1000 * missed_lives[-1], 1) if missed_lives else None,
        "missed_living_over_100ms": sum(1 for life in missed_lives if life > 0.1),
        "held_at_end_by_events": sorted(holding), "locks_at_end": left,
        "event_latency_ms": {
            "p50": round(1000 * percentile(latencies, 0.5), 1) if latencies else None,
            "p99": round(1000 * percentile(latencies, 0.99), 1) if latencies else None,
            "max": round(1000 * max(latencies), 1) if latencies else None,
        },
        "events_cpu_percent": {"idle": round(100 * idle_cpu, 2), "under_load": round(100 * busy_cpu, 1)},
        "key_press_ms": {"count": len(keys), "unanswered": unanswered, "p50": round(1000 * percentile(keys, 0.5), 1) if keys else None,
                         "p99": round(1000 * percentile(keys, 0.99), 1) if keys else None},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--locktop", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--rate", type=float, default=125, help="lock changes a second per process")
    args = parser.parse_args()
    reports = [run(args.locktop, args.seconds, overflow, args.processes, args.rate) for overflow in (False, True)]
    failures = []
    for report in reports:
        name = "with an overflow" if report["overflow"] else "without an overflow"
        if not report["overflow"] and report["missed_living_over_100ms"]:
            failures.append(f"{name}: events missed {report['missed_living_over_100ms']} acquisitions "
                            "that lived over 100 ms")
        if report["overflow"] and not report["rescanned"]:
            failures.append(f"{name}: no rescanned event")
        if report["held_at_end_by_events"] != report["locks_at_end"]:
            failures.append(f"{name}: events ends holding {report['held_at_end_by_events']}, "
                            f"the directory has {report['locks_at_end']}")
        if report["key_press_ms"]["unanswered"] or not report["key_press_ms"]["count"]:
            failures.append(f"{name}: {report['key_press_ms']['unanswered']} key presses never reached the screen "
                            f"within 2 s ({report['key_press_ms']['count']} did)")
        if (report["key_press_ms"]["p99"] or 0) > 50:
            failures.append(f"{name}: a key press took {report['key_press_ms']['p99']} ms at p99 (bound 50)")
    print(json.dumps({"runs": reports, "failures": failures}, indent=2))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
