#!/usr/bin/env bash
# npm's install step (`npm i -g ambit-<version>.tgz`, `npm ci` in a checkout): builds the
# SO_ORIGINAL_DST addon for the Node.js doing the install. The addon is what ambitd needs
# to capture traffic; the CLI runs without it, so a host without build tools (an operator's
# workstation) still gets a working `ambit`, and is told plainly what it lacks and how to
# add it, instead of a failed install or a daemon that breaks on its first connection.
set -uo pipefail
cd "$(dirname "$0")/.."

bash native/build.sh && exit 0

cat >&2 <<MSG

ambit: the native addon (native/build/Release/original_dst.node) was NOT built: see the messages above.
ambit: the ambit CLI works without it, but ambitd cannot capture traffic (it fails with ENATIVE_MISSING).
ambit: to run ambitd on this host, install the build tools (Debian/Ubuntu: apt-get install -y python3 make g++), then:
ambit:   cd $(pwd) && npm run build:native
ambit: or install the .deb (ambit_<version>_amd64.deb), which ships the addon built, with its own Node.js.

MSG
exit 0
