#!/usr/bin/env bash
# berth run against podman run and docker run, side by side (hyperfine), then memory: the idle
# monitor's PSS against conmon's (and docker's shim), and many idle containers at once.
#
#   benchmarks/run.sh [runs] [containers]        defaults: 30 runs, 500 containers
#   NO_BUILD=1 benchmarks/run.sh ...              the binaries already in .build-dist, as they are
#
# 1. `run --rm --network none IMAGE true` with each engine, the same busybox image (a static
#    busybox, /bin/busybox from busybox-static) pulled beforehand by each from a local
#    docker-registry on a loopback port. Medians and the ratio berth / podman (goal: at most 0.25).
# 2. One idle `run -d IMAGE sleep 1000` per engine: PSS (/proc/PID/smaps_rollup) of berth-monitor,
#    of conmon (podman's monitor) and of containerd-shim-runc-v2 (docker's).
# 3. CONTAINERS idle `berth run -d IMAGE sleep 100000`, started in batches (4 at a time within a
#    batch): the time to start them, the memory per container (sum of the PSS of the monitors
#    and the container processes; and the drop of MemAvailable, which also counts the kernel's
#    share: mounts, namespaces, cgroups, page tables), `run --rm` again beside them, then one
#    `berth rm -f` of all of them.
# Between 1 and 2, when perf is installed (PROFILE=0 skips it): where berth's time goes, phase by
# phase, from the kernel's process events (benchmarks/lib/run-phases.py).
#
# Every store is on a fresh loop-mounted ext4 file (DESIGN.md), every engine's run-time state
# (berth's --runroot, podman's --runroot and --tmpdir, dockerd's --exec-root) on one tmpfs, as
# /run is on most hosts. dockerd is a private one (its own data root, exec root and socket, no
# bridge, no iptables). podman runs with `--runtime runc` (crun fails on hybrid cgroups),
# `--ulimit nofile=20000:20000 --ulimit nproc=32768:32768` (its defaults are above this machine's
# hard limits) and cgroupfs; docker with its default runc. Peers that cannot run are reported and skipped.
# Everything is removed on exit, whatever happens. Needs root. Results: benchmarks/results/run-*.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib/common.sh
runs=${1:-30}
count=${2:-500}
[ "$(id -u)" = 0 ] || { echo "benchmarks/run.sh: run as root" >&2; exit 1; }
./scripts/install-deps.sh >/dev/null
if [ "${NO_BUILD:-0}" = 1 ]; then
  berth=$PWD/.build-dist/berth
  [ -x "$berth" ] || { echo "benchmarks/run.sh: NO_BUILD=1 but $berth is missing (scripts/build-release.sh)" >&2; exit 1; }
else
  berth=$PWD/$(./scripts/build-release.sh | tail -n 1)
fi
procmem="python3 $PWD/benchmarks/lib/procmem.py"
results=$PWD/benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$results/run-$stamp.txt

# Short paths: berth's attach sockets live under its run root (unix socket paths: 108 bytes).
work=$(mktemp -d /tmp/brun.XXXXXX)
mnt=$work/m
run=$work/r
registry_pid=""
dockerd_pid=""
podman_ok=0
docker_ok=0

berth_cmd=("$berth" --root "$mnt/berth" --runroot "$run/berth")
podman_cmd=(podman --root "$mnt/podman" --runroot "$run/podman" --tmpdir "$run/podman-tmp" --storage-driver overlay
  --cgroup-manager cgroupfs --events-backend file --runtime runc)
# podman's default nofile and nproc limits are above this machine's hard limits (root lacks
# CAP_SYS_RESOURCE here), so runc could not set them.
podman_limits=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
docker_cmd=(docker -H "unix://$work/docker.sock")

cleanup() {
  set +e
  trap - EXIT INT TERM
  # berth: remove every container this script made, then end whatever is left of their
  # monitors and processes (by pid: only those whose monitor names this store).
  if [ -s "$work/ids" ]; then
    xargs -a "$work/ids" timeout 300 "${berth_cmd[@]}" rm -f >/dev/null 2>&1
  fi
  for pid in $($procmem pids "$mnt/berth" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  if [ "$podman_ok" = 1 ]; then timeout 120 "${podman_cmd[@]}" rm -af -t 0 >/dev/null 2>&1; fi
  if [ -n "$dockerd_pid" ]; then
    ids=$("${docker_cmd[@]}" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 120 "${docker_cmd[@]}" rm -f $ids >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null; fi
  unmount_under "$work"
  # Cgroups berth left behind (none, when rm worked).
  if [ -s "$work/ids" ]; then
    while read -r id; do
      for dir in /sys/fs/cgroup/*/berth/"$id" /sys/fs/cgroup/berth/"$id"; do
        [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
      done
    done <"$work/ids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints to the terminal and to the report.
say() { echo "$@" | tee -a "$report"; }

# The image: a static busybox with every applet, and the files an image has.
source benchmarks/lib/busybox-rootfs.sh
busybox_oci_image "$work"

# A registry on a free loopback port, its storage outside the measured file system.
start_registry "$work"
skopeo copy -q --dest-tls-verify=false "oci:$work/oci-busybox:latest" "docker://$registry/busybox:latest"
image=$registry/busybox:latest

# The measured file system, and a tmpfs for run-time state.
truncate -s 4G "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
mkdir -p "$mnt" "$run"
mount -o loop "$work/disk.img" "$mnt"
mount -t tmpfs -o mode=0755,size=1g tmpfs "$run"
mkdir -p "$mnt/docker" "$run/docker-exec" "$run/podman-tmp"

say "berth run vs podman run vs docker run, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
say "berth $("$berth" --version 2>/dev/null || echo '(version unknown)'), berth-runtime (static), image $image"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work slows every engine)"

# Pull with each engine; a peer that cannot pull (or run) is left out.
"${berth_cmd[@]}" pull -q "$image" >/dev/null
if ! out=$("${podman_cmd[@]}" pull -q --tls-verify=false "$image" 2>&1); then
  say "podman: cannot pull here, left out: $(echo "$out" | tail -n 1)"
elif ! out=$("${podman_cmd[@]}" run --rm --network none "${podman_limits[@]}" "$image" true 2>&1); then
  say "podman: cannot run here, left out: $(echo "$out" | tail -n 1)"
else
  podman_ok=1
  say "podman $(podman --version | awk '{print $3}') (runc $(runc --version | awk 'NR==1{print $3}'), conmon $(conmon --version | awk 'NR==1{print $3}'))"
fi
if command -v dockerd >/dev/null; then
  dockerd --data-root "$mnt/docker" --exec-root "$run/docker-exec" -H "unix://$work/docker.sock" \
    --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false --insecure-registry "$registry" \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 150); do "${docker_cmd[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
  if ! "${docker_cmd[@]}" version >/dev/null 2>&1; then
    say "docker: dockerd does not start here, left out: $(tail -n 1 "$work/dockerd.log")"
  elif ! out=$("${docker_cmd[@]}" pull -q "$image" 2>&1); then
    say "docker: cannot pull here, left out: $(echo "$out" | tail -n 1)"
  elif ! out=$("${docker_cmd[@]}" run --rm --network none "$image" true 2>&1); then
    say "docker: cannot run here, left out: $(echo "$out" | tail -n 1)"
  else
    docker_ok=1
    say "docker $("${docker_cmd[@]}" version -f '{{.Server.Version}}') (containerd-shim-runc-v2, runc)"
  fi
else
  say "docker: dockerd is not installed, left out"
fi

# 1. run --rm, side by side.
commands=(-n berth "${berth_cmd[*]} run --rm --network none $image true")
[ "$podman_ok" = 1 ] && commands+=(-n podman "${podman_cmd[*]} run --rm --network none ${podman_limits[*]} $image true")
[ "$docker_ok" = 1 ] && commands+=(-n docker "${docker_cmd[*]} run --rm --network none $image true")
json=$results/run-rm-$stamp.json
hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" --style none "${commands[@]}" >/dev/null
say ""
say "run --rm --network none IMAGE true, $runs runs each, medians:"
python3 - "$json" <<'PY' | tee -a "$report"
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
def ms(name):
    r = results[name]
    return f"{r['median']*1000:7.1f} ms (mean {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f}, min {r['min']*1000:.1f})"
for name in ("berth", "podman", "docker"):
    if name in results:
        print(f"  {name:<7}{ms(name)}")
b = results["berth"]["median"]
for peer in ("podman", "docker"):
    if peer in results:
        goal = "   (goal: at most 0.25)" if peer == "podman" else ""
        print(f"  berth / {peer}: {b / results[peer]['median']:.3f}{goal}")
PY

# Where berth's time goes: process events (perf tracepoints, microseconds each) over a series
# of the same runs, split into phases (benchmarks/lib/run-phases.py). PROFILE=0 skips it.
if [ "${PROFILE:-1}" != 0 ] && command -v perf >/dev/null; then
  say ""
  say "where berth run --rm's time goes ($runs runs under perf's process tracepoints, medians):"
  perf record -q -o "$work/perf.data" -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit -a -- \
    sh -c "for i in \$(seq $runs); do ${berth_cmd[*]} run --rm --network none $image true; sleep 0.2; done" >/dev/null 2>&1
  perf script -i "$work/perf.data" -F comm,pid,tid,time,event,trace >"$work/perf.txt" 2>/dev/null
  python3 benchmarks/lib/run-phases.py "$work/perf.txt" "$berth" --json "$results/run-phases-$stamp.json" | tee -a "$report"
fi

# 2. The monitors of one idle container each.
say ""
say "idle monitor memory (one 'run -d IMAGE sleep 1000' each, 3 s after start), KiB:"
say "  $(printf '%-26s %8s %8s %8s' process PSS private RSS)"
mem_line() { # NAME PID
  local values
  values=$($procmem pss "$2")
  say "  $(printf '%-26s %8s %8s %8s' "$1" $(echo "$values" | awk '{print $2, $3, $4}'))"
  echo "$1 $(echo "$values" | awk '{print $2, $3, $4}')" >>"$work/monitors"
}
id=$("${berth_cmd[@]}" run -d --network none "$image" sleep 1000)
echo "$id" >>"$work/ids"
if [ "$podman_ok" = 1 ]; then
  pid_podman=$("${podman_cmd[@]}" run -d --network none "${podman_limits[@]}" "$image" sleep 1000)
fi
if [ "$docker_ok" = 1 ]; then
  pid_docker=$("${docker_cmd[@]}" run -d --network none "$image" sleep 1000)
fi
sleep 3
monitor=$($procmem tree "$mnt/berth" | python3 -c 'import json,sys; print(json.load(sys.stdin)["monitor_pids"][0])')
mem_line berth-monitor "$monitor"
if [ "$podman_ok" = 1 ]; then
  mem_line "conmon (podman)" "$("${podman_cmd[@]}" inspect --format '{{.State.ConmonPid}}' "$pid_podman")"
fi
if [ "$docker_ok" = 1 ]; then
  container_pid=$("${docker_cmd[@]}" inspect --format '{{.State.Pid}}' "$pid_docker")
  mem_line "containerd-shim (docker)" "$(awk '{print $4}' "/proc/$container_pid/stat")"
fi
"${berth_cmd[@]}" rm -f "$id" >/dev/null
: >"$work/ids"  # removed (a failed rm would have stopped the script, the trap then removes it)
[ "$podman_ok" = 1 ] && "${podman_cmd[@]}" rm -f -t 0 "$pid_podman" >/dev/null
[ "$docker_ok" = 1 ] && "${docker_cmd[@]}" rm -f "$pid_docker" >/dev/null

# 3. Many idle berth containers.
say ""
parallel=$(($(nproc) * 2))
batch=$((count < 100 ? count : 100))
say "$count idle containers (berth run -d --network none IMAGE sleep 100000), batches of $batch, $parallel at a time:"
limit_note=""
[ "$(ulimit -n)" -lt 4096 ] && limit_note=" (ulimit -n $(ulimit -n))"
[ "$(cat /proc/sys/kernel/pid_max)" -lt $((count * 4)) ] && limit_note="$limit_note (pid_max $(cat /proc/sys/kernel/pid_max))"
[ -n "$limit_note" ] && say "  limits: $limit_note"
cat >"$work/start-one.sh" <<SH
#!/bin/sh
if id=\$(${berth_cmd[*]} run -d --network none $image sleep 100000 2>>$work/start-errors); then
  echo "\$id" >>$work/ids
else
  echo failed >>$work/start-failures
fi
SH
chmod +x "$work/start-one.sh"
sync
sleep 2
cp /proc/meminfo "$work/meminfo-before"
started=$(date +%s.%N)
done_count=0
while [ "$done_count" -lt "$count" ]; do
  n=$((count - done_count < batch ? count - done_count : batch))
  batch_start=$(date +%s.%N)
  seq "$n" | xargs -P "$parallel" -I{} "$work/start-one.sh"
  done_count=$((done_count + n))
  say "  $(printf '%4d' "$done_count") started, this batch $(python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])):.2f}')" "$batch_start" "$(date +%s.%N)") s"
done
ended=$(date +%s.%N)
sleep 5
cp /proc/meminfo "$work/meminfo-after"
$procmem tree "$mnt/berth" >"$work/tree.json"
# The same `run --rm` as in part 1, now beside the idle containers; and what every reader of
# /proc/self/mountinfo now pays (each container adds an overlay mount to the host's table).
hyperfine -N --warmup 1 --runs 10 --export-json "$work/loaded.json" --style none \
  "${berth_cmd[*]} run --rm --network none $image true" >/dev/null
python3 - "$work/loaded.json" "$json" >"$work/loaded.txt" <<'PY'
import json, sys, time
loaded = json.load(open(sys.argv[1]))["results"][0]["median"]
idle = {r["command"]: r["median"] for r in json.load(open(sys.argv[2]))["results"]}["berth"]
start = time.perf_counter()
for _ in range(20):
    with open("/proc/self/mountinfo", "rb") as f:
        table = f.read()
read_ms = (time.perf_counter() - start) / 20 * 1000
lines = table.count(b"\n")
print(f"{loaded * 1000:.1f} {idle * 1000:.1f} {lines} {len(table) // 1024} {read_ms:.2f}")
PY
failures=$( [ -f "$work/start-failures" ] && wc -l <"$work/start-failures" || echo 0)
[ "$failures" -gt 0 ] && say "  $failures failed to start; the first error: $(head -n 1 "$work/start-errors")"
removal_start=$(date +%s.%N)
xargs -a "$work/ids" "${berth_cmd[@]}" rm -f >/dev/null 2>"$work/rm-errors" || say "  rm -f failed: $(head -n 1 "$work/rm-errors")"
removal_end=$(date +%s.%N)
sleep 5
cp /proc/meminfo "$work/meminfo-removed"
left=$($procmem tree "$mnt/berth" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["monitors"]["count"] + t["containers"]["count"])')
left_mounts=$(grep -c " $mnt/berth/containers/" /proc/self/mountinfo || true)
python3 - "$work" "$count" "$started" "$ended" "$removal_start" "$removal_end" "$results/run-memory-$stamp.json" "$left" "$left_mounts" "$(cat "$work/loaded.txt")" <<'PY' | tee -a "$report"
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
started, ended, rm_start, rm_end = map(float, sys.argv[3:7])
out, left, left_mounts = sys.argv[7], int(sys.argv[8]), int(sys.argv[9])
loaded_ms, idle_ms, mi_lines, mi_kib, mi_read_ms = (float(x) for x in sys.argv[10].split())
def meminfo(path):
    return {l.split(":")[0]: int(l.split()[1]) for l in open(path)}
before, after = meminfo(f"{work}/meminfo-before"), meminfo(f"{work}/meminfo-after")
removed = meminfo(f"{work}/meminfo-removed")
tree = json.load(open(f"{work}/tree.json"))
ids = [l for l in open(f"{work}/ids").read().split() if l]
n = len(ids)
monitors, containers = tree["monitors"], tree["containers"]
pss = monitors["pss_kib"] + containers["pss_kib"]
drop = before["MemAvailable"] - after["MemAvailable"]
kernel = {k: after[k] - before[k] for k in ("Slab", "SUnreclaim", "PageTables", "KernelStack", "Shmem", "Cached") if k in before}
summary = {
    "containers": n, "requested": count, "start_seconds": ended - started, "rm_seconds": rm_end - rm_start,
    "monitors": monitors, "container_processes": containers,
    "pss_per_container_kib": pss / max(n, 1),
    "monitor_pss_each_kib": monitors["pss_kib"] / max(monitors["count"], 1),
    "container_pss_each_kib": containers["pss_kib"] / max(containers["count"], 1),
    "memavailable_drop_kib": drop, "memavailable_drop_per_container_kib": drop / max(n, 1),
    "meminfo_deltas_kib": kernel, "memavailable_after_rm_minus_before_kib": removed["MemAvailable"] - before["MemAvailable"],
    "left_after_rm": {"processes": left, "mounts": left_mounts},
    "run_rm_median_ms_beside_them": loaded_ms, "run_rm_median_ms_alone": idle_ms,
    "mountinfo_beside_them": {"lines": mi_lines, "kib": mi_kib, "read_ms": mi_read_ms},
}
json.dump(summary, open(out, "w"), indent=2)
print(f"  started {n} of {count} in {ended - started:.1f} s ({(ended - started) / max(n, 1) * 1000:.0f} ms each, {n / (ended - started):.1f}/s)")
print(f"  monitors: {monitors['count']}, PSS {monitors['pss_kib'] / 1024:.1f} MiB in all, {summary['monitor_pss_each_kib']:.0f} KiB each")
print(f"  container processes: {containers['count']}, PSS {containers['pss_kib'] / 1024:.1f} MiB in all, {summary['container_pss_each_kib']:.0f} KiB each")
print(f"  per container: {summary['pss_per_container_kib']:.0f} KiB PSS (monitor + processes); "
      f"MemAvailable dropped {drop / 1024:.0f} MiB, {drop / max(n, 1):.0f} KiB per container")
print(f"  (MemAvailable is machine-wide: other work moves it. After rm it was {(removed['MemAvailable'] - before['MemAvailable']) / 1024:+.0f} MiB from before the start)")
print("  meminfo deltas per container (KiB): " + ", ".join(f"{k} {v / max(n, 1):.0f}" for k, v in kernel.items()))
print(f"  run --rm IMAGE true beside them: {loaded_ms:.1f} ms median (10 runs; {idle_ms:.1f} ms in part 1); "
      f"/proc/self/mountinfo has {mi_lines:.0f} lines ({mi_kib:.0f} KiB), one read takes {mi_read_ms:.2f} ms")
print(f"  rm -f of all {n} (one command): {rm_end - rm_start:.1f} s ({(rm_end - rm_start) / max(n, 1) * 1000:.0f} ms each); "
      f"left after: {left} processes, {left_mounts} mounts")
PY
say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "raw results: benchmarks/results/run-{rm,phases,memory}-$stamp.json, run-$stamp.txt"
