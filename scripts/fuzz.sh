#!/bin/sh
# Runs every fuzz target (func FuzzXxx in a _test.go file) of the module for
# FUZZTIME each (default 60s), one after the other; fails on the first
# target that finds a crasher (Go writes it to the package's
# testdata/fuzz/FuzzXxx/, where it stays as a seed once fixed).
set -eu
FUZZTIME=${FUZZTIME:-60s}
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for t in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "== $pkg $t ($FUZZTIME)"
		go test "$pkg" -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME"
	done
done
