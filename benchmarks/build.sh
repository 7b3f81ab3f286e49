#!/usr/bin/env bash
# berth build against podman build (and docker build with DOCKER=1), side by side (hyperfine).
#
#   benchmarks/build.sh [runs]                 default: 5 runs of each case
#   NO_BUILD=1 benchmarks/build.sh ...         the binaries already in .build-dist, as they are
#   BERTH=/path/to/berth benchmarks/build.sh   another berth (its helpers next to it)
#
# One multi-stage Dockerfile: a stage on a debootstrap --variant=minbase Debian (RUN, COPY of
# 200 source files, RUN over them, ENV) whose output the final stage on busybox copies (COPY
# --from, COPY, RUN, ENV, CMD). The base images come from a local docker-registry on a loopback
# port and are pulled by each engine beforehand (pulls are measured by pull.sh). Three cases:
#   cold      build --no-cache (every step runs, every layer is made)
#   no-op     the same build again, nothing changed (every step from the cache)
#   one file  one source file changed before each run (both stages rebuild from their COPY on)
# Medians, and the ratios berth / podman (goals: cold at most 0.8, no-op at most 0.2).
#
# RUN steps use the host's network with every engine (berth's default, `--network host` for
# the peers: no CNI setup in the timings). podman runs with `--runtime runc` and
# `--ulimit nofile=20000:20000` (its defaults are above this machine's hard limits), cgroupfs.
# Every store is on a fresh loop-mounted ext4 file (DESIGN.md), run-time state on a tmpfs.
# Everything is removed on exit. Needs root. Results: benchmarks/results/build-*.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib/common.sh
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "benchmarks/build.sh: run as root" >&2; exit 1; }
./scripts/install-deps.sh >/dev/null
if [ -n "${BERTH:-}" ]; then
  berth=$BERTH
elif [ "${NO_BUILD:-0}" = 1 ]; then
  berth=$PWD/.build-dist/berth
  [ -x "$berth" ] || { echo "benchmarks/build.sh: NO_BUILD=1 but $berth is missing (scripts/build-release.sh)" >&2; exit 1; }
else
  berth=$PWD/$(./scripts/build-release.sh | tail -n 1)
fi
cache=$PWD/benchmarks/.cache
mkdir -p "$cache"
results=$PWD/benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$results/build-$stamp.txt

# The debian minbase layer (built once).
debian_layer "$cache"

work=$(mktemp -d /tmp/bbuild.XXXXXX)
mnt=$work/m
run=$work/r
registry_pid=""
dockerd_pid=""
podman_ok=0
docker_ok=0
berth_cmd=("$berth" --root "$mnt/berth" --runroot "$run/berth")
podman_cmd=(podman --root "$mnt/podman" --runroot "$run/podman" --tmpdir "$run/podman-tmp" --storage-driver overlay
  --cgroup-manager cgroupfs --events-backend file)
podman_build=(build --runtime runc --ulimit nofile=20000:20000 --network host --pull=never --layers)
docker_cmd=(docker -H "unix://$work/docker.sock")

cleanup() {
  set +e
  trap - EXIT INT TERM
  # The check run made berth's default network: its bridge and firewall rules go with the store.
  timeout 120 "${berth_cmd[@]}" system reset -f >/dev/null 2>&1
  [ "$podman_ok" = 1 ] && timeout 120 "${podman_cmd[@]}" rm -af -t 0 >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null; fi
  unmount_under "$work"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$@" | tee -a "$report"; }

# The base images, pushed to a registry on a free loopback port.
source benchmarks/lib/busybox-rootfs.sh
busybox_oci_image "$work"
python3 benchmarks/lib/oci-image.py "$work/oci-debian" latest "$cache/debian.tar.gz"
start_registry "$work"
for name in busybox debian; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci-$name:latest" "docker://$registry/$name:latest"
done

# The measured file system, and a tmpfs for run-time state.
truncate -s 8G "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
mkdir -p "$mnt" "$run"
mount -o loop "$work/disk.img" "$mnt"
mount -t tmpfs -o mode=0755,size=1g tmpfs "$run"
mkdir -p "$mnt/docker" "$run/docker-exec" "$run/podman-tmp"

# The context: 200 small source files and one of 1 MB.
context=$mnt/context
mkdir -p "$context/src"
for i in $(seq 1 200); do echo "source file $i" >"$context/src/file-$i.txt"; done
head -c 1000000 /dev/urandom | base64 >"$context/src/blob.txt"
printf '*.log\n' >"$context/.dockerignore"
cat >"$context/Dockerfile" <<EOF
FROM $registry/debian:latest AS builder
ENV LANG=C.UTF-8
RUN mkdir -p /out && cp /etc/os-release /out/ && ls /usr/bin | wc -l >/out/count
COPY src/ /src/
RUN cat /src/*.txt | sort >/out/sorted.txt && gzip -k /out/sorted.txt
FROM $registry/busybox:latest
ENV APP=/app
COPY --from=builder /out /app/out
COPY src/ /app/src/
RUN echo built >/app/stamp && ls -R /app >/app/listing
ENV MODE=prod
CMD ["cat", "/app/listing"]
EOF

say "berth build vs podman build$([ "${DOCKER:-0}" = 1 ] && echo ' vs docker build'), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work slows every engine)"
"${berth_cmd[@]}" pull -q "$registry/busybox:latest" >/dev/null
"${berth_cmd[@]}" pull -q "$registry/debian:latest" >/dev/null
if "${podman_cmd[@]}" pull -q --tls-verify=false "$registry/busybox:latest" >/dev/null 2>&1 \
  && "${podman_cmd[@]}" pull -q --tls-verify=false "$registry/debian:latest" >/dev/null 2>&1 \
  && out=$("${podman_cmd[@]}" "${podman_build[@]}" -q -t bench "$context" 2>&1); then
  podman_ok=1
  say "podman $(podman --version | awk '{print $3}') (runc $(runc --version | awk 'NR==1{print $3}'))"
else
  say "podman: cannot build here, left out: $(echo "${out:-pull failed}" | tail -n 1)"
fi
if [ "${DOCKER:-0}" = 1 ] && command -v dockerd >/dev/null; then
  dockerd --data-root "$mnt/docker" --exec-root "$run/docker-exec" -H "unix://$work/docker.sock" \
    --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false --insecure-registry "$registry" \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 150); do "${docker_cmd[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
  if "${docker_cmd[@]}" pull -q "$registry/busybox:latest" >/dev/null 2>&1 \
    && "${docker_cmd[@]}" pull -q "$registry/debian:latest" >/dev/null 2>&1 \
    && out=$("${docker_cmd[@]}" build -q --network host -t bench "$context" 2>&1); then
    docker_ok=1
    say "docker $("${docker_cmd[@]}" version -f '{{.Server.Version}}')"
  else
    say "docker: cannot build here, left out: $(echo "${out:-pull failed}" | tail -n 1)"
  fi
fi
# The first berth build (also checks that it works).
"${berth_cmd[@]}" build -q -t bench "$context" >/dev/null
"${berth_cmd[@]}" run --rm bench >/dev/null

touch_one="sh -c 'echo \$\$ >>$context/src/file-1.txt'"
for case in cold noop onefile; do
  commands=()
  for engine in berth podman docker; do
    case $engine in
      berth) build="${berth_cmd[*]} build -q -t bench" ;;
      podman) [ "$podman_ok" = 1 ] || continue; build="${podman_cmd[*]} ${podman_build[*]} -q -t bench" ;;
      docker) [ "$docker_ok" = 1 ] || continue; build="${docker_cmd[*]} build -q --network host -t bench" ;;
    esac
    case $case in
      cold) commands+=(--prepare "sync" -n "$engine" "$build --no-cache $context") ;;
      noop) commands+=(--prepare "$build $context" -n "$engine" "$build $context") ;;
      onefile) commands+=(--prepare "$touch_one" -n "$engine" "$build $context") ;;
    esac
  done
  json=$results/build-$case-$stamp.json
  hyperfine --runs "$runs" --export-json "$json" --style none "${commands[@]}" >/dev/null
  python3 - "$json" "$case" <<'PY' | tee -a "$report"
import json, sys
results = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
case = {"cold": "cold (--no-cache)", "noop": "no-op rebuild", "onefile": "one file changed"}[sys.argv[2]]
goal = {"cold": 0.8, "noop": 0.2, "onefile": None}[sys.argv[2]]
line = f"{case:<20}" + "".join(f"{name} {value*1000:8.1f} ms   " for name, value in results.items())
if "podman" in results:
    line += f"berth/podman {results['berth']/results['podman']:.3f}" + (f" (goal: at most {goal})" if goal else "")
print(line)
PY
done
say "raw results: benchmarks/results/build-*-$stamp.json"
