"""Load: about 1,000 lock changes a second for a while, from 8 processes on 100 keys, against
`locktop events --json` as root, and the dashboard under tmux; then what events saw against what
the workers did. Run by scripts/soak.sh --load, as root.

Each worker takes a random free key the way locktop and the helper do (a complete temporary file
linked into place), holds it a few milliseconds and removes it, logging `(key, holder, taken,
removed)` with the monotonic clock. The second run also stops `events` in the middle while 150k
inotify events arrive, so that its queue overflows: then a `rescanned` event and a consistent end
are what count. It exits 1, naming each failure: without the overflow, a missed acquisition that
lived over 100 ms (shorter ones can come and go while `events` is off the CPU: their count and the
longest one's life are reported); with it, no `rescanned`; in either, an end state unlike the
directory's, or a key press over 50 ms at p99.
Reports: acquisitions seen as `acquired` events, event latency p50/p99/max, `events`' CPU against
its idle figure, and the dashboard's key-press-to-screen latency p50/p99.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
    socket = os.path.join(root, "tmux.sock")
    subprocess.run(["tmux", "-S", socket, "new-session", "-d", "-x", "160", "-y", "40", "-e", "TERM=xterm-256color",
                    "-e", f"XDG_STATE_HOME={state}", f"{locktop} --dir {directory}"], check=True)
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
    # Key presses while the load runs: `?` opens the help, Escape closes it; time each to the screen.
    deadline = time.monotonic() + seconds - 2
    time.sleep(2)
    while time.monotonic() < deadline:
        for key, shows in (("?", True), ("Escape", False)):
            sent = time.monotonic()
            subprocess.run(["tmux", "-S", socket, "send-keys", key])
            while time.monotonic() - sent < 2:
                screen = subprocess.run(["tmux", "-S", socket, "capture-pane", "-p"], capture_output=True).stdout
                if (b"locktop help" in screen) == shows:
                    keys.append(time.monotonic() - sent)
                    break
        time.sleep(0.2)
    for worker in workers:
        worker.wait()
    busy_cpu = (cpu_seconds(events.pid) - busy_start[1]) / (time.monotonic() - busy_start[0])
    time.sleep(3)
    events.terminate()
    events.wait()
    subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
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
        "key_press_ms": {"count": len(keys), "p50": round(1000 * percentile(keys, 0.5), 1) if keys else None,
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
        if (report["key_press_ms"]["p99"] or 0) > 50:
            failures.append(f"{name}: a key press took {report['key_press_ms']['p99']} ms at p99 (bound 50)")
    print(json.dumps({"runs": reports, "failures": failures}, indent=2))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
