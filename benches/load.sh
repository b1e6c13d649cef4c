#!/bin/sh
# The load benchmark in one command: the release service pinned to core 0, the load
# driver (and its stand-ins: issuer, connector, SMTP server) on core 1, then botbuilder-js
# 4.23.3 pinned the same way. Prints req/s, p50/p90/p99/max and peak RSS per scenario.
#
#     benches/load.sh [SECONDS_PER_SCENARIO]      (default 10)
set -eu
cd "$(dirname "$0")/.."
if [ ! -d benches/botbuilder-baseline/node_modules ]; then
    npm ci --prefix benches/botbuilder-baseline --no-audit --no-fund >/dev/null
fi
cargo bench --bench load --no-run
exec taskset -c 1 cargo bench --bench load -- "$@"
