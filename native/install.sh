#!/usr/bin/env bash
# npm's install step (`npm i -g ambit-<version>.tgz`, `npm ci` in a checkout): builds the
# SO_ORIGINAL_DST addon for the Node.js doing the install. ambitd cannot capture traffic
# without it, and npm hides the output of install scripts that succeed, so a build that
# fails fails the install, saying what is missing and the two ways on: add the build tools,
# or install only the CLI (--ignore-scripts), e.g. on an operator's workstation. ambitd
# itself refuses to start without the addon (ENATIVE_MISSING), should it be missing anyway.
set -uo pipefail
cd "$(dirname "$0")/.."

bash native/build.sh && exit 0

cat >&2 <<MSG

ambit: the native addon (native/build/Release/original_dst.node) could not be built: see the messages above.
ambit: ambitd needs it to capture traffic. Either
ambit:   - install the build tools (Debian/Ubuntu: apt-get install -y python3 make g++) and install again, or
ambit:   - install the .deb (ambit_<version>_amd64.deb), which ships the addon built and its own Node.js, or
ambit:   - for the ambit CLI only (no ambitd on this host): npm install -g --ignore-scripts <this package>
ambit:     (later, to run ambitd here: npm run build:native in $(pwd))

MSG
exit 1
