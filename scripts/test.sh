#!/usr/bin/env bash
# Runs every test: unit tests and the integration tests that start real containers (as root).
#   scripts/test.sh [swift test arguments, e.g. --filter BerthRuntimeTests]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build
swift test "$@"
