#!/usr/bin/env python3
"""Memory of processes, from /proc/PID/smaps_rollup, for the benchmarks.

    procmem.py pss PID...      one line per process: pid, PSS, private (USS) and RSS in KiB
    procmem.py tree MARKER     berth-monitor processes whose command line mentions MARKER (the
                               benchmark's store), and their descendants (the containers):
                               a JSON object with counts, PSS sums and the pids
    procmem.py pids MARKER     the pids of that tree, one a line, monitors first (for cleanup)

PSS divides each shared page among the processes that map it, so the sum of PSS over a set of
processes is what they cost together; private (USS) is what would be freed if one went away.
"""
import json, os, sys


def rollup(pid):
    """smaps_rollup of a process as a dict of KiB values; None when it is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    values[parts[0][:-1]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values["Private"] = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
    return values


def processes():
    """pid -> (ppid, argv) for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except (FileNotFoundError, ProcessLookupError):
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        table[int(name)] = (ppid, argv)
    return table


def tree(marker):
    table = processes()
    monitors = [pid for pid, (_, argv) in table.items()
                if argv and os.path.basename(argv[0]) == "berth-monitor" and any(marker in a for a in argv)]
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    descendants, todo = [], list(monitors)
    while todo:
        for child in children.get(todo.pop(), []):
            descendants.append(child)
            todo.append(child)
    return monitors, descendants


def total(pids):
    pss = private = rss = alive = 0
    for pid in pids:
        r = rollup(pid)
        if r is None:
            continue
        alive += 1
        pss += r.get("Pss", 0)
        private += r["Private"]
        rss += r.get("Rss", 0)
    return {"count": alive, "pss_kib": pss, "private_kib": private, "rss_kib": rss}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "pss":
        for pid in args:
            r = rollup(pid)
            if r is None:
                print(f"{pid} gone")
            else:
                print(f"{pid} {r.get('Pss', 0)} {r['Private']} {r.get('Rss', 0)}")
    elif mode == "tree":
        monitors, containers = tree(args[0])
        print(json.dumps({"monitors": total(monitors), "containers": total(containers),
                          "monitor_pids": monitors, "container_pids": containers}))
    elif mode == "pids":
        monitors, containers = tree(args[0])
        for pid in monitors + containers:
            print(pid)
    else:
        sys.exit(f"procmem.py: unknown mode {mode}")


main()
