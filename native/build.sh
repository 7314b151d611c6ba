#!/usr/bin/env bash
# Builds native/build/Release/original_dst.node; run as `npm run build:native`
# (also part of `prepare`, so `npm ci` builds it). npm puts its bundled node-gyp
# on PATH for scripts; node-gyp itself needs python3, make and a C++ compiler,
# and its own messages for a missing one are cryptic, so we check first.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
for tool in python3 make g++; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "ambit: cannot build the native addon (native/original_dst.cc): missing ${missing[*]}." >&2
  echo "ambit: install the build tools, e.g. 'apt-get install -y python3 make g++', then run 'npm run build:native'." >&2
  exit 1
fi
if ! command -v node-gyp >/dev/null 2>&1; then
  echo "ambit: node-gyp is not on PATH; run this through npm ('npm run build:native'), which provides it." >&2
  exit 1
fi

exec node-gyp rebuild
