#!/usr/bin/env bash
# CLI start-up time: `ambit --help` and `ambit version` against bare `node -e 0`
# (the floor any Node CLI pays), measured by hyperfine in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install -y hyperfine" >&2; exit 2; }
[ -f dist/cli/main.js ] || npm run build >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
hyperfine --warmup 3 --runs "${RUNS:-30}" --export-json "$out" \
  -n 'node -e 0' 'node -e 0' \
  -n 'ambit --help' 'node bin/ambit.js --help' \
  -n 'ambit version' 'node bin/ambit.js version' >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const base = r[0].mean;
console.log("| command | mean ms | stddev ms | vs node -e 0 |");
console.log("|---|---:|---:|---:|");
for (const x of r) console.log(`| ${x.command} | ${(x.mean*1e3).toFixed(1)} | ${(x.stddev*1e3).toFixed(1)} | ${(x.mean/base).toFixed(2)}x |`);
' "$out"
