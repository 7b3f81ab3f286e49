#!/usr/bin/env python3
"""Where the time of `berth run --rm IMAGE true` goes, from the kernel's process events.

    perf record -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit -a -- \\
        sh -c 'for i in $(seq 40); do berth run --rm ... true; sleep 0.2; done'
    perf script -F comm,pid,tid,time,event,trace > events.txt
    run-phases.py events.txt /path/to/berth [--json out.json]

Follows each run from the exec of berth (the CLI) through the processes it and its monitor
start (berth-monitor, berth-runtime create/start/delete, the container's stub and /bin/true,
and the `berth rm` exit command when the monitor removes the container) to the CLI's exit, and
prints the median of each phase, separately for the runs where the CLI removed the container
itself and those where the monitor's exit command did (the two race for it). Tracepoints cost
microseconds, so unlike strace this barely moves the timings.
"""
import json, re, statistics, sys

path, berth = sys.argv[1], sys.argv[2]
out_json = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--json" else None

events = []
line_re = re.compile(r"\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
for line in open(path, errors="replace"):
    m = line_re.match(line)
    if m:
        comm, pid, tid, t, event, trace = m.groups()
        events.append((float(t), comm, int(pid), int(tid), event.split(":")[-1], trace))
events.sort()

runs, cur = [], None
for t, comm, pid, tid, event, trace in events:
    if event == "sched_process_exec" and f"filename={berth} " in trace:
        if cur is not None and "cli_exit" not in cur and pid != cur["cli"]:
            cur["exitcmd_exec"], cur["exitcmd_pid"] = t, pid  # the monitor's `berth rm`
            cur["pids"].add(pid)
            continue
        if cur is None or "cli_exit" in cur:
            cur = {"t0": t, "cli": pid, "pids": {pid}, "runtime_exec": [], "runtime_exit": []}
            runs.append(cur)
            continue
    if cur is None:
        continue
    if event == "sched_process_fork" and pid in cur["pids"]:
        child = int(re.search(r"child_pid=(\d+)", trace).group(1))
        cur["pids"].add(child)
        if pid == cur["cli"] and "cli_thread" not in cur:
            cur["cli_thread"] = t  # the CLI's first thread: start-up is over
        continue
    if pid not in cur["pids"]:
        continue
    if event == "sched_process_exec":
        name = trace.split("filename=")[1].split()[0]
        if name.endswith("/berth-monitor"):
            cur["monitor_exec"] = t
        elif name.endswith("/berth-runtime"):
            cur["runtime_exec"].append(t)
        elif name == "/bin/true":
            cur["true_exec"] = t
    elif event == "sched_process_exit" and "group_dead=true" in trace:
        if comm == "berth-runtime":
            cur["runtime_exit"].append(t)
        elif comm == "berth-monitor":
            cur["monitor_exit"] = t
        elif comm == "true":
            cur["true_exit"] = t
        if pid == cur.get("exitcmd_pid"):
            cur["exitcmd_exit"] = t
        if pid == cur["cli"]:
            cur["cli_exit"] = t
    elif event == "sched_process_exit" and pid == cur["cli"] and tid == pid:
        cur["cli_exit"] = t

complete = []
for r in runs:
    if len(r["runtime_exec"]) < 3 or len(r["runtime_exit"]) < 3 or not all(
            k in r for k in ("cli_thread", "monitor_exec", "true_exec", "true_exit", "monitor_exit", "cli_exit")):
        continue
    (r["create_exec"], r["start_exec"], r["delete_exec"]) = r["runtime_exec"][:3]
    (r["create_exit"], r["start_exit"], r["delete_exit"]) = r["runtime_exit"][:3]
    complete.append(r)

phases = [
    ("berth start-up (exec to its first thread)", "t0", "cli_thread"),
    ("CLI: store, create, mount, start; spawn the monitor", "cli_thread", "monitor_exec"),
    ("monitor start-up to runtime create", "monitor_exec", "create_exec"),
    ("berth-runtime create", "create_exec", "create_exit"),
    ("CLI attaches, asks start; monitor runs start", "create_exit", "start_exec"),
    ("berth-runtime start", "start_exec", "start_exit"),
    ("/bin/true in the container", "true_exec", "true_exit"),
    ("exit seen, berth-runtime delete", "true_exit", "delete_exit"),
    ("monitor records the exit and ends", "delete_exit", "monitor_exit"),
]
summary = {}
for kind, label in (("cli", "the CLI removed the container"), ("monitor", "the monitor's exit command (berth rm) removed it")):
    group = [r for r in complete if ("exitcmd_exec" in r) == (kind == "monitor")]
    if not group:
        continue
    rows = list(phases)
    if kind == "cli":
        rows.append(("CLI removes the container (in process)", "monitor_exit", "cli_exit"))
    else:
        rows.append(("exit command: a second berth, rm", "exitcmd_exec", "exitcmd_exit"))
        rows.append(("CLI notices (polls every 50 ms) and exits", "exitcmd_exit", "cli_exit"))
    total = statistics.median((r["cli_exit"] - r["t0"]) * 1000 for r in group)
    print(f"  {label}: {len(group)} of {len(complete)} runs, median {total:.1f} ms")
    summary[kind] = {"runs": len(group), "median_ms": total, "phases": {}}
    for name, a, b in rows:
        values = [(r[b] - r[a]) * 1000 for r in group if a in r and b in r]
        if values:
            value = statistics.median(values)
            summary[kind]["phases"][name] = value
            print(f"    {name:<55} {value:6.1f} ms")
if out_json:
    json.dump(summary, open(out_json, "w"), indent=2)
