#!/usr/bin/env bash
# The demo: builds Berth's release binaries, imports a busybox image (a rootfs made from this
# machine's static /bin/busybox) into a private store, and runs containers from it with
# `berth run`: one that prints its hostname, that it is PID 1, and its memory limit, then a
# detached one shown with logs, exec and rm; then a web server and a client that finds it by
# name on a user network, and a two-line Dockerfile built and run. The store lives in a
# temporary directory that is removed at the end (with its networks), whatever happens. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need it)" >&2; exit 1; }
./scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
berth_bin=$PWD/$(./scripts/build-release.sh | tail -n 1)

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
berth=("$berth_bin" --root "$work/root" --runroot "$work/run")
cleanup() {
  set +e
  # Every container, network (bridges and firewall rules too) and image of the private store,
  # then whatever is still mounted under it.
  [ -d "$work/root" ] && "${berth[@]}" system reset -f >/dev/null 2>&1
  for m in $(grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | uniq); do umount -l "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# Shows a command (arguments with spaces or quotes in single quotes), then runs it.
show() {
  local line="berth" arg
  for arg in "$@"; do
    case $arg in
      *[[:space:]\"\$\'\(\)\;\*\[]*) line+=" '$arg'" ;;
      *) line+=" $arg" ;;
    esac
  done
  echo
  echo "\$ $line"
  "${berth[@]}" "$@"
}

# A busybox image: the static busybox with its applets as symlinks, and the files an image has.
rootfs=$work/busybox
source benchmarks/lib/busybox-rootfs.sh
busybox_rootfs "$rootfs"
tar -C "$rootfs" --numeric-owner -cf "$work/busybox.tar" .

echo "Berth $("$berth_bin" --version | awk '{print $NF}'), a private store in $work"
show import --change 'CMD ["sh"]' "$work/busybox.tar" busybox:latest
show images

# A container with a hostname and a 64 MiB memory limit (cgroup v1 or v2, whichever the host has).
show run --rm --memory 64m --hostname berth-demo busybox sh -c '
  echo "hostname: $(hostname)"
  echo "pid: $$"
  for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do
    [ -r "$f" ] && echo "memory limit: $(cat "$f") bytes"
  done
  true'

# A detached one: listed, its logs, a command run inside it, then removed.
show run -d --name demo busybox sh -c 'echo hello from $(hostname); exec sleep 1000'
sleep 0.5
show ps
show logs demo
show exec demo ps
show rm -f demo

# Two containers on a user network: the client finds the server by name (Berth's DNS server).
show network create demo-net
show run -d --name web --network demo-net busybox httpd -f -p 80 -h /etc
show run --rm --network demo-net busybox wget -qO- http://web/hostname
show rm -f web
show network rm demo-net

# A Dockerfile built into an image (RUN in a real container, a cached rebuild), then run.
mkdir -p "$work/app"
printf 'FROM busybox\nRUN echo "built by berth on $(uname -m)" > /built\nCMD ["cat", "/built"]\n' >"$work/app/Dockerfile"
show build -t demo-app "$work/app"
show build -t demo-app "$work/app"
show run --rm demo-app
