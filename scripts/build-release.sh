#!/usr/bin/env bash
# Builds Berth's release binaries and puts them together in one directory, .build-dist/, where
# `berth` finds its helpers next to itself (Sources/BerthEngine/Runtime/Executables.swift):
#
#   scripts/build-release.sh                  # all four: berth, berth-monitor, berth-init, berth-runtime
#   scripts/build-release.sh berth-runtime    # only the named products (still copied into .build-dist/)
#
# Prints the path of each binary, relative to the repository; the last line is always
# .build-dist/berth (callers use `tail -n 1`). The static berth-runtime also stays at
# .build-static/release/berth-runtime, where benchmarks/runtime.sh runs it.
#
# berth-runtime is linked fully statically (its own scratch path, .build-static): no dynamic
# loader and no shared libraries to map saves about 0.7 ms on every container start (measured
# here: 0.9 ms against 1.8 ms for `--version`). berth is linked with the static Swift stdlib
# and Foundation (its own scratch path, .build-berth): about 10 ms less of dynamic linking at
# every command (BENCHMARKS.md). berth-monitor (Embedded Swift) and berth-init (C, no libc) are
# built in the default scratch path, .build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

all=(berth berth-monitor berth-init berth-runtime)
products=("$@")
[ ${#products[@]} -gt 0 ] || products=("${all[@]}")
for product in "${products[@]}"; do
  case " ${all[*]} " in *" $product "*) ;; *) echo "build-release.sh: unknown product $product (one of: ${all[*]})" >&2; exit 2 ;; esac
done

dist=.build-dist
mkdir -p "$dist"
# Copies a binary into the directory under a temporary name, then renames it: running monitors
# keep their old executable (a copy onto a busy executable fails with ETXTBSY).
place() {
  cp "$1" "$dist/.$2.new"
  mv -f "$dist/.$2.new" "$dist/$2"
}

for product in "${products[@]}"; do
  if [ "$product" = berth-runtime ]; then
    args=(--scratch-path .build-static -Xswiftc -static-executable
      -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors)
  elif [ "$product" = berth ]; then
    args=(--scratch-path .build-berth --static-swift-stdlib)
  else
    args=()
  fi
  # Quiet when it works; the whole log when it does not. A source file saved while it was being
  # compiled (several people edit this tree) only needs another try.
  echo "building $product (release)..." >&2
  for attempt in 1 2 3 4; do
    if log=$(swift build -c release --product "$product" "${args[@]}" 2>&1); then break; fi
    if [ "$attempt" -lt 4 ] && grep -q "was modified during the build" <<<"$log"; then
      echo "  (a source file changed during the build; again)" >&2
      continue
    fi
    echo "$log" | grep -vE "statically linked applications requires at runtime|^\s*$" >&2
    exit 1
  done
  if [ "$product" = berth-runtime ]; then
    place .build-static/release/berth-runtime berth-runtime
  elif [ "$product" = berth ]; then
    place .build-berth/release/berth berth
  else
    place ".build/release/$product" "$product"
  fi
done

for product in berth-runtime berth-init berth-monitor; do
  if [ -x "$dist/$product" ]; then echo "$dist/$product"; fi
done
[ -x "$dist/berth" ] || echo "build-release.sh: warning: $dist/berth is not built yet (run without arguments)" >&2
echo "$dist/berth"
