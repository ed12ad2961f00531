#!/bin/sh
# make bench: run the benchmark suite against bin/signet (built by make) and
# write BENCHMARKS.md. The BENCH lines are the last lines of the output.
# Extra arguments go to the harness, e.g. scripts/bench.sh -rounds 1 -http 3s.
set -eu
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local CGO_ENABLED=1
[ -x bin/signet ] || go build -o bin/signet ./cmd/signet
command -v openssl >/dev/null || { echo "bench: openssl is needed (make deps installs it)" >&2; exit 1; }
go build -o bin/benchsuite ./scripts/benchsuite
exec bin/benchsuite "$@"
