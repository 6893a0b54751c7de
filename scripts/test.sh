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
# Map each test executable to its crate (several crates name their integration binary `it`),
# then require that every crate's unit tests and integration tests ran at least one test.
artifacts=$(mktemp)
cargo test --workspace --locked --no-run --message-format=json 2>/dev/null >"$artifacts"
python3 - "$log" "$artifacts" <<'PY'
import json, re, sys
log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
exe_to_target = {}
for line in open(sys.argv[2], encoding="utf-8"):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
        # package ids look like `path+file:///…/crates/NAME#0.1.0` or `…#NAME@0.1.0`
        path, _, frag = msg["package_id"].partition("#")
        crate = frag.split("@")[0] if "@" in frag else path.rstrip("/").split("/")[-1]
        kind = msg["target"]["kind"][0]
        if kind in ("example", "bench"):
            continue
        exe_to_target[msg["executable"].split("/")[-1]] = (crate, "unit" if kind in ("lib", "bin") else msg["target"]["name"])
counts = {}
for exe, n in re.findall(r"Running .+? \((?:[^)]*/)?([^)/]+)\)\s*\n\s*\nrunning (\d+) tests?", log):
    key = exe_to_target.get(exe, ("?", exe))
    counts[key] = counts.get(key, 0) + int(n)
for key in sorted(counts):
    print(f"  {key[0]} {key[1]}: {counts[key]}")
missing = [f"{c} {k}" for (c, k) in exe_to_target.values() if counts.get((c, k), 0) == 0 and k != "unit"]
missing += [f"{c} unit tests" for c in sorted({c for c, _ in exe_to_target.values()}) if counts.get((c, "unit"), 0) == 0]
print(f"{sum(counts.values())} tests ran in {len(counts)} suites")
if missing:
    print("SUITES THAT RAN NO TEST: " + ", ".join(sorted(set(missing))), file=sys.stderr)
    sys.exit(1)
PY
exit "$status"
