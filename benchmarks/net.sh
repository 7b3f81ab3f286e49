#!/usr/bin/env bash
# What a network costs: container start on the default bridge against --network none, for berth
# and podman side by side (hyperfine), and TCP throughput between two containers on one berth
# network against the host's loopback (iperf3).
#
#   benchmarks/net.sh [runs]                  default: 20 runs
#   NO_BUILD=1 benchmarks/net.sh ...          the binaries already in .build-dist, as they are
#
# 1. `run --rm IMAGE true` on the default bridge and with `--network none`, each engine. The
#    network's added time is median(bridge) - median(none); goal: berth's at most 0.5x podman's.
#    podman uses its CNI backend here (bridge, portmap, firewall, tuning plugins); berth calls
#    the bridge plugin (and host-local) and keeps its firewall rules per network.
# 2. iperf3 -c from one container to `iperf3 -s` in another on a berth user network, then the
#    same between two processes on the host's 127.0.0.1. Five seconds each, Gbit/s.
# The image is a static busybox plus the host's iperf3 and the libraries it links, imported by
# each engine from the same tarball. Stores on a fresh loop-mounted ext4 file, run-time state on
# a tmpfs; everything is removed on exit. Needs root. Results: benchmarks/results/net-*.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib/common.sh
runs=${1:-20}
[ "$(id -u)" = 0 ] || { echo "benchmarks/net.sh: run as root" >&2; exit 1; }
./scripts/install-deps.sh >/dev/null
if [ "${NO_BUILD:-0}" = 1 ]; then
  berth=$PWD/.build-dist/berth
  [ -x "$berth" ] || { echo "benchmarks/net.sh: NO_BUILD=1 but $berth is missing (scripts/build-release.sh)" >&2; exit 1; }
else
  berth=$PWD/$(./scripts/build-release.sh | tail -n 1)
fi
results=$PWD/benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$results/net-$stamp.txt

work=$(mktemp -d /tmp/bnet.XXXXXX)
mnt=$work/m
run=$work/r
podman_ok=0
iperf_pid=""
berth_cmd=("$berth" --root "$mnt/berth" --runroot "$run/berth")
podman_cmd=(podman --root "$mnt/podman" --runroot "$run/podman" --tmpdir "$run/podman-tmp" --storage-driver overlay
  --cgroup-manager cgroupfs --events-backend file --runtime runc)
podman_limits=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
network=bnet$$

cleanup() {
  set +e
  trap - EXIT INT TERM
  [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null
  # Containers, networks, the default bridge and its firewall rules of this store.
  timeout 120 "${berth_cmd[@]}" system reset -f >/dev/null 2>&1
  [ "$podman_ok" = 1 ] && timeout 120 "${podman_cmd[@]}" rm -af -t 0 >/dev/null 2>&1
  unmount_under "$work"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$@" | tee -a "$report"; }

# The image: busybox, and iperf3 with the libraries it links.
source benchmarks/lib/busybox-rootfs.sh
rootfs=$work/image
busybox_rootfs "$rootfs"
iperf=$(command -v iperf3)
for file in "$iperf" $(ldd "$iperf" | grep -o '/[^ ]*'); do
  mkdir -p "$rootfs$(dirname "$file")"
  cp -L "$file" "$rootfs$file"
done
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/image.tar" .
image=localhost/netbench:latest

truncate -s 4G "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
mkdir -p "$mnt" "$run"
mount -o loop "$work/disk.img" "$mnt"
mount -t tmpfs -o mode=0755,size=1g tmpfs "$run"
mkdir -p "$run/podman-tmp"

say "container networks: berth vs podman, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
say "berth $("$berth" --version 2>/dev/null || echo '(version unknown)')"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

"${berth_cmd[@]}" import "$work/image.tar" "$image" >/dev/null
"${berth_cmd[@]}" run --rm "$image" true
if ! out=$("${podman_cmd[@]}" import -q "$work/image.tar" "$image" 2>&1); then
  say "podman: cannot import here, left out: $(echo "$out" | tail -n 1)"
elif ! out=$("${podman_cmd[@]}" run --rm "${podman_limits[@]}" "$image" true 2>&1); then
  say "podman: cannot run on its default network here, left out: $(echo "$out" | tail -n 1)"
else
  podman_ok=1
  say "podman $(podman --version | awk '{print $3}') ($(podman info --format '{{.Host.NetworkBackend}}') network backend, runc)"
fi

# 1. Start on the default bridge against no network.
commands=(-n "berth bridge" "${berth_cmd[*]} run --rm $image true"
  -n "berth none" "${berth_cmd[*]} run --rm --network none $image true")
[ "$podman_ok" = 1 ] && commands+=(
  -n "podman bridge" "${podman_cmd[*]} run --rm ${podman_limits[*]} $image true"
  -n "podman none" "${podman_cmd[*]} run --rm --network none ${podman_limits[*]} $image true")
json=$results/net-run-$stamp.json
hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" --style none "${commands[@]}" >/dev/null
say ""
say "run --rm IMAGE true, $runs runs each, medians:"
python3 - "$json" <<'PY' | tee -a "$report"
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
for name, ms in r.items():
    print(f"  {name:<14}{ms:7.1f} ms")
added = {}
for engine in ("berth", "podman"):
    if f"{engine} bridge" in r:
        added[engine] = r[f"{engine} bridge"] - r[f"{engine} none"]
        print(f"  {engine} network setup and teardown: {added[engine]:.1f} ms")
if "podman" in added and added["podman"] > 0:
    print(f"  berth / podman (added time): {added['berth'] / added['podman']:.2f}   (goal: at most 0.5)")
PY

# 2. Throughput: container to container, and host loopback.
gbits() { python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.1f" % (r["end"]["sum_received"]["bits_per_second"]/1e9))'; }
subnet="10.$((200 + RANDOM % 50)).$((RANDOM % 250)).0/24"
"${berth_cmd[@]}" network create --subnet "$subnet" "$network" >/dev/null
"${berth_cmd[@]}" run -d --name iperf-server --network "$network" "$image" iperf3 -s >/dev/null
server_ip=$("${berth_cmd[@]}" inspect iperf-server | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['NetworkSettings']['Networks']['$network']['IPAddress'])")
for _ in $(seq 50); do "${berth_cmd[@]}" exec iperf-server sh -c 'netstat -ltn | grep -q :5201' && break; sleep 0.1; done
container=$("${berth_cmd[@]}" run --rm --network "$network" "$image" iperf3 -c "$server_ip" -t 5 -J | gbits)
port=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
host=$(iperf3 -c 127.0.0.1 -p "$port" -t 5 -J | gbits)
say ""
say "TCP throughput (iperf3, 5 s, one stream):"
say "  container to container on a berth network: $container Gbit/s"
say "  host loopback:                              $host Gbit/s"
say "  ratio: $(python3 -c "print(f'{$container / $host:.2f}')")"
say ""
say "report: $report"
