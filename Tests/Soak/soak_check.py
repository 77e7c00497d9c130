"""The soak's checker: the global promises, over what every process logged.

- No two sections of one key overlap, but where the locks directory was removed under a holder
  (that fault's, reported apart). Prefect 3.0's own JSONDecodeError failures are counted apart.
- No break (the audit log: the bot's and the dashboard's) names a holder that was alive, and no
  `stale` event does; a SIGSTOPped holder is alive. No live holder's release found its lock gone.
- Every dead holder's lock is judged stale (or broken) within STALE_BOUND by each watcher that
  was up from before its section to after the bound and could judge it, a plain 3.9.1 holder that
  died before its write was read too (counted apart); plain prefect-redis holders cannot be
  judged, by design, and are left out.
- Every break in the audit log is a `broken` event in each watcher of its store that was up
  around it; every `broken` event has its audit line.
- The records no worker writes are unchanged; no `.locktop-PID-…` file is left by a process that
  was not killed; no locktop exited by itself or with an unexpected status; RSS stays bounded.
"""
import datetime
import glob
import json
import os

from soak import FAULTS, STALE_BOUND

# The watchers whose events are checked, and the stores each one watches (a `-steady` one, never
# killed, watches what its namesake does).
STORES_WATCHED_BY = {
    "events-fs": {"file"}, "events-faked": {"file"}, "events-redis": {"redis"}, "serve": {"file", "redis"},
}


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Checker:
    def __init__(self, soak):
        self.soak = soak
        self.watched_stores = {name: STORES_WATCHED_BY[name.removesuffix("-steady")] for name in soak.watcher_names
                               if name.removesuffix("-steady") in STORES_WATCHED_BY}
        self.violations = list(soak.violations)
        self.entries = soak.read_logs()

    def up(self, name, start, end, stalls_count=True):
        """Whether watcher `name` ran through [start, end]: started before, not down in between, nor
        stopped by the harness (unless `stalls_count` is false)."""
        first = self.soak.begin + 2
        if start < first:
            return False
        windows = self.soak.windows["watcher-down"].get(name, [])
        if stalls_count:
            windows = windows + self.soak.windows["watcher-stalled"].get(name, [])
        for down_start, down_end in windows:
            if down_start <= end and start <= down_end:
                return False
        return end <= self.soak.end

    def events(self, name):
        """`name`'s events, parsed, with the monotonic time each line came, over all its runs."""
        out = []
        for path in [os.path.join(self.soak.logs, f"{name}.out")]:
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    stamp, _, text = line.partition(" ")
                    try:
                        event = json.loads(text)
                    except ValueError:
                        continue
                    event["received"] = float(stamp)
                    out.append(event)
        return out

    def sections(self):
        ends = {}
        for entry in self.entries:
            if entry["event"] == "leave":
                ends[(entry["worker"], entry["pid"], entry.get("section"), entry.get("holder"))] = entry["t"]
        sections = []
        for entry in self.entries:
            if entry["event"] != "enter":
                continue
            key = (entry["worker"], entry["pid"], entry.get("section"), entry.get("holder"))
            died = self.soak.deaths.get(key)
            end = ends.get(key, died if died is not None else self.soak.end)
            sections.append({**entry, "end": end, "died": died if key not in ends else None})
        return sections

    def in_dir_removal(self, start, end):
        return any(r0 <= end and start <= r1 for r0, r1 in self.soak.windows["dir-remove"])

    def check(self):
        sections = self.sections()
        self.check_overlaps(sections)
        holders = {}
        for section in sections:
            holders.setdefault(section["holder"], []).append(section)
        audit = self.audit_lines()
        self.check_breaks(audit, holders)
        delays = self.check_stale(sections, holders)
        self.check_broken_events(audit)
        self.check_records_and_leftovers()
        self.check_exits()
        rss = self.check_rss()
        self.check_fault_effects()
        kinds = {}
        for section in sections:
            kinds[section["kind"]] = kinds.get(section["kind"], 0) + 1
        errors = {}
        for entry in self.entries:
            if entry["event"] == "error":
                name = f"{entry['kind']}: {entry['error']}"
                errors[name] = errors.get(name, 0) + 1
        faults = {}
        for fault in self.soak.faults:
            how = "skipped" if "skipped" in fault else "dashboard" if "dialog" in fault else None
            name = fault["kind"] + (f" ({how})" if how else "")
            faults[name] = faults.get(name, 0) + 1
        ran = {fault["kind"] for fault in self.soak.faults if "skipped" not in fault}
        for kind in FAULTS:
            if kind not in ran:
                tries = faults.get(f"{kind} (skipped)", 0)
                self.violations.append(f"the fault {kind} never ran: {tries} tries found nothing to act on")
        return {
            "seed": self.soak.args.seed, "minutes": self.soak.args.minutes, "faults": faults,
            "sections_by_kind": kinds, "worker_errors": errors,
            "lost_releases": sum(1 for e in self.entries if e["event"] == "lost"),
            "breaks": len(audit), "stale_delays": delays, "rss": rss,
            "violations": self.violations, "logs": self.soak.root,
        }

    def check_overlaps(self, sections):
        by_key = {}
        for section in sections:
            by_key.setdefault(section["key"], []).append(section)
        for key, items in by_key.items():
            items.sort(key=lambda s: s["t"])
            latest = None
            for section in items:
                if latest and section["t"] < latest["end"] and section["holder"] != latest["holder"]:
                    if self.in_dir_removal(latest["t"], section["t"]):
                        self.soak.faults.append({"kind": "overlap after dir-remove (expected)", "key": key})
                    else:
                        self.violations.append(
                            f"overlap on {key}: {latest['worker']} ({latest['holder']}) inside "
                            f"{latest['t']:.3f}-{latest['end']:.3f}, {section['worker']} entered {section['t']:.3f}")
                if latest is None or section["end"] > latest["end"]:
                    latest = section

    def audit_lines(self):
        lines = []
        path = os.path.join(self.soak.state, "locktop", "audit.log")
        if os.path.exists(path):
            with open(path) as f:
                for text in f:
                    try:
                        line = json.loads(text)
                    except ValueError:
                        self.violations.append(f"an audit line that is not JSON: {text[:200]!r}")
                        continue
                    if line.get("action"):
                        continue
                    line["t"] = parse_time(line["time"]) - self.soak.wall_offset
                    lines.append(line)
        return lines

    def alive_at(self, holder, t, holders):
        """Whether a section of `holder` was open at `t` with its process alive."""
        for section in holders.get(holder, []):
            if section["t"] <= t and (section["died"] is None or section["died"] > t) and section["end"] > t:
                return section
        return None

    def check_breaks(self, audit, holders):
        for line in audit:
            # Alive after the break (with 50 ms for the harness's own sight of a death): a live holder.
            live = self.alive_at(line.get("old_holder"), line["t"] + 0.05, holders)
            if live and not self.in_dir_removal(line["t"] - 1, line["t"]):
                self.violations.append(
                    f"a break of {line['key']} at {line['t']:.3f} named live holder {live['worker']} "
                    f"({line['reason']})")
        for entry in self.entries:
            if entry["event"] != "lost":
                continue
            if not self.in_dir_removal(entry["t"] - 2, entry["t"]):
                self.violations.append(f"{entry['worker']} left {entry['key']} alive and found its lock gone")

    def check_stale(self, sections, holders):
        delays = {}
        watchers = {store: [name for name, stores in self.watched_stores.items() if store in stores]
                    for store in ("file", "redis")}
        parsed = {name: self.events(name) for name in self.watched_stores}
        for name, events in parsed.items():
            for event in events:
                if event.get("type") != "stale":
                    continue
                live = self.alive_at(event.get("holder"), event["received"] + 0.05, holders)
                if live:
                    self.violations.append(
                        f"{name} called {event['key']} stale while its holder {live['worker']} lived: {event.get('reason')}")
        for section in sections:
            died = section["died"]
            if died is None or section["kind"] == "prefect-redis" or died > self.soak.end - STALE_BOUND:
                continue
            store = "redis" if "redis" in section["kind"] else "file"
            # Without fanotify, a plain FileSystemLockManager holder (a bare uuid4) cannot be judged.
            for name in watchers[store]:
                if name == "events-faked" and section["kind"] == "prefect-fs":
                    continue
                if not self.up(name, section["t"] - 1, died + STALE_BOUND):
                    continue
                if self.in_dir_removal(section["t"], died + STALE_BOUND):
                    continue
                judged = [
                    e for e in parsed[name]
                    if e.get("key") == section["key"] and e["received"] >= section["t"]
                    and (e.get("holder") == section["holder"] or e.get("previous_holder") == section["holder"])
                    and e.get("type") in ("stale", "broken", "released")
                ]
                first = min((e["received"] for e in judged), default=None)
                delay = None if first is None else round(max(0.0, first - died), 3)
                # A uuid4 holder that died before this watcher read its write is named by fanotify's
                # pidfd record (the lock files are 0644, so only their owner may write them):
                # counted apart, and held to the same bound.
                unseen = section["kind"] == "prefect-fs" and not self.seen_alive(parsed[name], section)
                delays.setdefault(f"{name} {section['kind']}{' died unseen' if unseen else ''}", []).append(delay)
                if delay is None or delay > STALE_BOUND:
                    self.violations.append(
                        f"{name}: {section['worker']}'s lock of {section['key']} not judged within "
                        f"{STALE_BOUND}s of its death ({'never' if delay is None else f'{delay:.2f}s'})")
        summary = {}
        for name, values in delays.items():
            known = sorted(v for v in values if v is not None)
            summary[name] = {"count": len(values), "judged": len(known),
                             "median": known[len(known) // 2] if known else None, "max": known[-1] if known else None}
        return summary

    @staticmethod
    def seen_alive(events, section):
        """Whether the watcher named the section's holder process (fanotify had been read: its
        `acquired` event carries the pid) while that process lived."""
        return any(e.get("type") == "acquired" and e.get("holder") == section["holder"] and e.get("pid")
                   and e["received"] < section["died"] for e in events)

    def check_broken_events(self, audit):
        for name, stores in self.watched_stores.items():
            events = [e for e in self.events(name) if e.get("type") == "broken"]
            for line in audit:
                if ("redis" if line["lock_file"].startswith("redis://") else "file") not in stores:
                    continue
                if not self.up(name, line["t"] - 2, line["t"] + 5) or self.in_dir_removal(line["t"] - 2, line["t"] + 5):
                    continue
                if not any(e.get("key") == line["key"] and e.get("previous_holder") == line.get("old_holder")
                           and abs(e["received"] - line["t"]) < 5 for e in events):
                    self.violations.append(f"{name} has no broken event for the break of {line['key']} at {line['t']:.3f}")
            for event in events:
                if not any(line["key"] == event.get("key") and line.get("old_holder") == event.get("previous_holder")
                           for line in audit):
                    self.violations.append(f"{name}'s broken event for {event.get('key')} has no audit line")

    def check_records_and_leftovers(self):
        for name, data in self.soak.manifest.items():
            path = os.path.join(self.soak.locks, name)
            try:
                with open(path, "rb") as f:
                    if f.read() != data:
                        self.violations.append(f"record {name} was changed")
            except FileNotFoundError:
                self.violations.append(f"record {name} was deleted")
        for path in glob.glob(os.path.join(self.soak.locks, ".locktop-*")):
            name = os.path.basename(path)
            if name.startswith(".locktop-alive-"):
                continue
            pid = name[len(".locktop-"):].split("-")[0]
            if not pid.isdigit() or int(pid) not in self.soak.killed_pids:
                self.violations.append(f"{name} was left behind by a process that was not killed")

    def check_exits(self):
        for entry in self.entries:
            if entry["event"] == "exit" and entry["status"] not in (0, 75, -9):
                # Without space, its directory or its Redis server, `locktop lock` fails, as it should.
                if entry["status"] == 1 and any(
                        f["kind"] in ("disk-full", "dir-remove", "redis-restart")
                        and f["t"] - 8 <= entry["t"] <= f["t"] + 12 for f in self.soak.faults):
                    continue
                self.violations.append(
                    f"locktop lock in {entry['worker']} exited {entry['status']}: {entry.get('stderr', '')[-200:]}")
        for name, watcher in self.soak.dead_watchers:
            process = watcher.get("process")
            if process and not process.killed:
                self.violations.append(f"{name} ended by itself with {process.popen.returncode}")
        for name, watcher in self.soak.watchers.items():
            process = watcher.get("process")
            if process and process.ended is not None and process.ended < self.soak.end:
                self.violations.append(f"{name} ended by itself with {process.popen.returncode}")

    def check_rss(self):
        out = {}
        for instance, samples in self.soak.rss.items():
            if len(samples) < 5:
                continue
            half = samples[len(samples) // 2:]
            n = len(half)
            mean_t = sum(t for t, _ in half) / n
            mean_r = sum(r for _, r in half) / n
            var = sum((t - mean_t) ** 2 for t, _ in half) or 1
            slope = sum((t - mean_t) * (r - mean_r) for t, r in half) / var * 60 / 1024
            peak = max(r for _, r in samples) / 1024
            out[instance] = {"peak_mib": round(peak, 1), "slope_mib_per_min": round(slope, 2),
                             "minutes": round((samples[-1][0] - samples[0][0]) / 60, 1)}
            if peak > 300:
                self.violations.append(f"{instance}: RSS peaked at {peak:.0f} MiB")
            if samples[-1][0] - samples[0][0] > 600 and slope > 1:
                self.violations.append(f"{instance}: RSS grows {slope:.2f} MiB a minute")
        return out

    def check_fault_effects(self):
        events = self.events("events-fs")
        for fault in self.soak.faults:
            if fault["kind"] == "inotify-overflow" and self.up(
                    "events-fs", fault["t"] - fault["seconds"] - 1, fault["t"] + 10, stalls_count=False):
                if not any(e.get("type") == "rescanned" and fault["t"] - fault["seconds"] <= e["received"] <= fault["t"] + 10
                           for e in events):
                    self.violations.append("events-fs made no rescanned event after the inotify overflow")
            if fault["kind"] == "dir-remove" and self.up("events-fs", fault["t"] - 2, fault["t"] + 10):
                if not any(e.get("type") in ("directory_missing", "directory_replaced", "rescanned")
                           and fault["t"] - 2 <= e["received"] <= fault["t"] + 10 for e in events):
                    self.violations.append("events-fs said nothing of the locks directory removed and made again")
