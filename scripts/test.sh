#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test binary, and a check that every
# suite actually ran (a suite that silently ran no test fails the build).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== no OpenSSL or aws-lc in the tree"
for forbidden in openssl-sys aws-lc-sys; do
  if cargo tree --workspace -e normal,build -i "$forbidden" >/dev/null 2>&1; then
    echo "forbidden dependency in the tree: $forbidden" >&2
    cargo tree --workspace -e normal,build -i "$forbidden" >&2 || true
    exit 1
  fi
done

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
log=$(mktemp)
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo "== every suite ran"
# Each crate's unit tests and integration binaries must have run at least one test.
python3 - "$log" <<'PY'
import re, sys
log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
# "Running tests/x.rs (target/debug/deps/NAME-HASH)" followed by "running N tests"
runs = re.findall(r"Running (\S+) \((?:[^)]*/)?([A-Za-z0-9_]+)-[0-9a-f]+\)\s*\n\s*\nrunning (\d+) tests?", log)
counts = {}
for src, name, n in runs:
    counts[name] = counts.get(name, 0) + int(n)
# Test binaries that must run at least one test: each crate's unit tests and the
# integration binaries.
required = ["firewatch_domain", "firewatch_store", "conformance", "firewatch_web", "firewatch",
            "firewatch_it", "firewatch_triage", "firewatch_stats", "firewatch_policy",
            "firewatch_forecast", "firewatch_connectors"]
missing = [r for r in required if counts.get(r, 0) == 0]
print(f"{len(runs)} test binaries ran {sum(counts.values())} tests")
for name in sorted(counts):
    print(f"  {name}: {counts[name]}")
if missing:
    print("SUITES THAT RAN NO TEST: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
exit "$status"
