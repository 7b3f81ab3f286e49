#!/usr/bin/env bash
# berth-runtime against runc on the same busybox bundle, side by side (hyperfine).
#
#   benchmarks/runtime.sh [runs]
#
# Measures `run` of /bin/true, then create, start and delete separately, and prints each
# median with the ratio berth-runtime / runc (goal for run: at most 0.3). The bundle and both
# state directories live on a fresh loop-mounted ext4 file (DESIGN.md: the root file system
# here is ext4 without a journal, slow after mass deletes). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
[ "$(id -u)" = 0 ] || { echo "benchmarks/runtime.sh: run as root" >&2; exit 1; }
./scripts/install-deps.sh >/dev/null
./scripts/build-release.sh >/dev/null
berth=$PWD/.build-static/release/berth-runtime
runc=$(command -v runc)

work=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
cleanup() {
  "$berth" --root "$work/mnt/berth" delete --force bench >/dev/null 2>&1 || true
  "$runc" --root "$work/mnt/runc" delete --force bench >/dev/null 2>&1 || true
  # The last container's mount namespace may still be going away: retry, then detach lazily.
  for _ in 1 2 3 4 5; do umount "$work/mnt" 2>/dev/null && break; sleep 0.2; done
  mountpoint -q "$work/mnt" && umount -l "$work/mnt"
  rm -rf "$work"
}
trap cleanup EXIT
truncate -s 512M "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
mkdir "$work/mnt"
mount -o loop "$work/disk.img" "$work/mnt"

bundle=$work/mnt/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/tmp"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in sh true; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
(cd "$bundle" && "$runc" spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(path, "w"), indent=2)
PY

results=$PWD/benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
declare -A medians

# bench NAME PREPARE_FOR_BERTH PREPARE_FOR_RUNC COMMAND_ARGS...
bench() {
  local name=$1
  local json=$results/runtime-$name-$stamp.json
  local b="$berth --root $work/mnt/berth" r="$runc --root $work/mnt/runc"
  local args=$2
  # One --prepare serves every command, so each runtime's preparation comes through -L.
  hyperfine -N --warmup 10 --runs "$runs" --export-json "$json" --style none \
    -L rt "$b,$r" --prepare "sh -c '${3//RT/\{rt\}}'" "{rt} $args" >/dev/null
  python3 - "$json" "$name" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
berth, runc = data[0], data[1]
ratio = berth["median"] / runc["median"]
print(f"{sys.argv[2]:<8} berth-runtime {berth['median']*1000:7.2f} ms   runc {runc['median']*1000:7.2f} ms   ratio {ratio:5.2f}")
PY
}

cd "$bundle"
echo "berth-runtime vs runc, $runs runs each, medians ($(nproc) cores, $(uname -r))"
bench run "run bench" "RT delete --force bench >/dev/null 2>&1; true"
bench create "create bench" "RT delete --force bench >/dev/null 2>&1; true"
bench start "start bench" "RT delete --force bench >/dev/null 2>&1; RT create bench"
bench delete "delete bench" "RT delete --force bench >/dev/null 2>&1; RT create bench && RT start bench && sleep 0.01"
echo "raw results: benchmarks/results/runtime-*-$stamp.json"
