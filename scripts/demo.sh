#!/usr/bin/env bash
# The demo: builds berth-runtime, makes a busybox bundle, and runs a container that prints its
# hostname, that it is PID 1, and its memory limit. Cleans up after itself. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need it)" >&2; exit 1; }
./scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
runtime=$PWD/$(./scripts/build-release.sh | tail -n 1)

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap '"$runtime" --root "$work/state" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for applet in sh cat echo hostname; do ln -s busybox "$work/bundle/rootfs/bin/$applet"; done

cd "$work/bundle"
"$runtime" spec
# A hostname, a 64 MiB memory limit and a script instead of the interactive shell.
jq '.hostname = "berth-demo"
  | .process.terminal = false
  | .linux.resources.memory = {"limit": 67108864}
  | .process.args = ["sh", "-c",
      "echo \"hostname: $(hostname)\"; echo \"pid: $$\"; for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do [ -r $f ] && echo \"memory limit: $(cat $f) bytes\"; done; true"]' \
  config.json >config.json.new && mv config.json.new config.json

echo "\$ berth-runtime run demo"
"$runtime" --root "$work/state" run demo
