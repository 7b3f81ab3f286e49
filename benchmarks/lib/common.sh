# Sourced by the benchmarks: what several of them need.

# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry WORK: Debian's docker-registry on a free loopback port, its storage in
# WORK/registry (outside the measured file system). Sets registry (host:port) and
# registry_pid; returns once it answers.
start_registry() {
  local work=$1
  registry=127.0.0.1:$(free_port)
  cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $registry
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
}

# unmount_under DIR: every mount under DIR, deepest first; a container's mount namespace may
# still be going away, so it retries before detaching lazily.
unmount_under() {
  local dir=$1 attempt mounts m
  for attempt in 1 2 3 4 5; do
    mounts=$(grep -o " $dir/[^ ]*" /proc/self/mountinfo | sort -r | uniq)
    [ -z "$mounts" ] && break
    for m in $mounts; do
      if [ "$attempt" = 5 ]; then umount -l "$m" 2>/dev/null; else umount "$m" 2>/dev/null; fi
    done
    sleep 0.2
  done
}

# debian_layer CACHE: CACHE/debian.tar.gz, a debootstrap --variant=minbase bookworm rootfs as
# one gzip layer, built once (as Debian's own images: no downloaded packages or lists).
debian_layer() {
  local cache=$1
  [ -f "$cache/debian.tar.gz" ] && return 0
  echo "building the debian minbase rootfs (once)..."
  rm -rf "$cache/debian"
  debootstrap --variant=minbase bookworm "$cache/debian" http://deb.debian.org/debian >/dev/null
  rm -rf "$cache/debian/var/cache/apt/archives/"*.deb "$cache/debian/var/lib/apt/lists/"*
  tar -C "$cache/debian" --numeric-owner -cf - . | gzip -n -6 >"$cache/debian.tar.gz"
  rm -rf "$cache/debian"
}
