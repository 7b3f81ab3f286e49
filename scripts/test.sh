#!/usr/bin/env bash
# Runs every test: unit tests and the integration tests that start real containers (as root).
#   scripts/test.sh [swift test arguments, e.g. --filter BerthRuntimeTests]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build
if [ $# -gt 0 ]; then
  swift test "$@"
  exit
fi
# Two processes: the engine's, the monitor's and the network's suites wait with Task.sleep (logs -f, restarts,
# healthchecks), while the runtime's and the image store's synchronous suites hold the
# cooperative threads (two on two cores) for seconds at a time; together, the waits time out.
async_suites='BerthEngineTests|BerthMonitorTests|BerthNetworkTests'
swift test --filter "$async_suites"
swift test --skip-build --skip "$async_suites"
