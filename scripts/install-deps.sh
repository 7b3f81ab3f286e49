#!/usr/bin/env bash
# Installs every Debian package Berth needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

packages=(
  # build
  pkg-config libseccomp-dev libarchive-dev libsqlite3-dev
  # test fixtures and tools
  busybox-static docker-registry apache2-utils jq iproute2 util-linux procps e2fsprogs python3 openssl debootstrap
  # networking (CNI plugins)
  containernetworking-plugins iptables curl iperf3
  # peers for interop tests and benchmarks
  runc podman docker.io skopeo umoci hyperfine
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Never start services from package postinst scripts (dockerd, registry): tests start their own.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  echo "install-deps: add /opt/swift/usr/bin to PATH" >&2
fi
