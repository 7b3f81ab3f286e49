#!/usr/bin/env bash
# berth pull against podman pull and docker pull, from a local docker-registry, side by side,
# with the floor: `tar -xzf` of the same layers.
#
#   benchmarks/pull.sh [runs]
#
# Two images: a debootstrap --variant=minbase Debian (one layer, 49 MB gzip), and ~100 MB in
# three gzip layers (from this machine's /usr). Every store (and the floor's output) is on one fresh
# loop-mounted ext4 file (DESIGN.md); each timing run starts without the image (the prepare
# step removes it and, for berth and podman, the whole store). Needs root; builds the debian
# rootfs once into benchmarks/.cache (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib/common.sh
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "benchmarks/pull.sh: run as root" >&2; exit 1; }
./scripts/install-deps.sh >/dev/null
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product berth >/dev/null 2>&1 || swift build -c release --product berth
berth=$PWD/.build/release/berth
cache=$PWD/benchmarks/.cache
mkdir -p "$cache"

# The images' layers (built once).
debian_layer "$cache"
if [ ! -f "$cache/three-3.tar.gz" ]; then
  # About 100 MB of compressed layers from this machine's /usr (the set varies a little
  # between machines; the comparison is within one run).
  tar -C / --numeric-owner -cf - usr/lib/python3 usr/lib/x86_64-linux-gnu/perl usr/lib/x86_64-linux-gnu/gconv 2>/dev/null | gzip -n -6 >"$cache/three-1.tar.gz"
  tar -C / --numeric-owner -cf - usr/share/locale 2>/dev/null | gzip -n -6 >"$cache/three-2.tar.gz"
  tar -C / --numeric-owner -cf - usr/share/perl usr/share/i18n usr/share/zoneinfo usr/share/vim 2>/dev/null | gzip -n -6 >"$cache/three-3.tar.gz"
fi

work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
registry_pid=""
dockerd_pid=""
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  sleep 0.5
  unmount_under "$work"
  rm -rf "$work"
}
trap cleanup EXIT

# A registry on a free loopback port, its storage outside the measured file system.
start_registry "$work"
for image in debian:minbase three:layers; do
  name=${image%%:*}
  if [ "$name" = debian ]; then layers="$cache/debian.tar.gz"; else layers="$cache/three-1.tar.gz $cache/three-2.tar.gz $cache/three-3.tar.gz"; fi
  python3 benchmarks/lib/oci-image.py "$work/oci-$name" latest $layers
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci-$name:latest" "docker://$registry/$name:latest"
done

# The measured file system.
truncate -s 8G "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
mkdir "$work/mnt"
mount -o loop "$work/disk.img" "$work/mnt"
mnt=$work/mnt

podman=(podman --root "$mnt/podman" --runroot "$work/podman-run" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
mkdir -p "$mnt/docker" "$work/docker-exec"
dockerd --data-root "$mnt/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
  --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false --insecure-registry "$registry" \
  >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
docker=(/usr/bin/docker -H "unix://$work/docker.sock")
for _ in $(seq 100); do "${docker[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done

results=$PWD/benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
echo "pull from a local docker-registry, $runs runs each, medians ($(nproc) cores, $(uname -r))"
for name in debian three; do
  if [ "$name" = debian ]; then layers="$cache/debian.tar.gz"; else layers="$cache/three-1.tar.gz $cache/three-2.tar.gz $cache/three-3.tar.gz"; fi
  ref=$registry/$name:latest
  floor="for l in $layers; do tar -C $mnt/floor --numeric-owner -xzf \$l; done"
  json=$results/pull-$name-$stamp.json
  hyperfine --runs "$runs" --export-json "$json" --style none \
    --prepare "sh -c 'rm -rf $mnt/berth; sync'" \
    -n berth "$berth --root $mnt/berth pull -q $ref" \
    --prepare "sh -c '${podman[*]} rmi -af >/dev/null 2>&1; sync'" \
    -n podman "${podman[*]} pull -q --tls-verify=false $ref" \
    --prepare "sh -c '${docker[*]} rmi -f $ref >/dev/null 2>&1; sync'" \
    -n docker "${docker[*]} pull -q $ref" \
    --prepare "sh -c 'rm -rf $mnt/floor; mkdir $mnt/floor; sync'" \
    -n "tar -xzf" "sh -c '$floor'" >/dev/null
  python3 - "$json" "$name" <<'PY'
import json, sys
results = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
berth, podman, docker, floor = results["berth"], results["podman"], results["docker"], results["tar -xzf"]
print(f"{sys.argv[2]:<7} berth {berth:6.2f} s   podman {podman:6.2f} s   docker {docker:6.2f} s   tar -xzf {floor:6.2f} s"
      f"   berth/podman {berth/podman:4.2f}   berth/tar {berth/floor:4.2f}")
PY
done
echo "raw results: benchmarks/results/pull-*-$stamp.json"
