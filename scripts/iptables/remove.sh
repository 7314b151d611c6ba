#!/usr/bin/env bash
# Remove every ambit jump and chain, in IPv4 and IPv6, whatever options apply.sh
# was given; tables apply.sh had to create are deleted again once empty, so
# iptables-save reads as it did before. Safe to run when nothing is installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "usage: remove.sh   (removes ambit's chains in IPv4 and IPv6; takes no options)" >&2; }
case ${1-} in
  '') ;;
  -h | --help) usage; exit 0 ;;
  *) usage; die "remove.sh takes no options" ;;
esac

require_tools iptables iptables-save iptables-restore
for family in 4 6; do
  use_family "$family"
  # No ip6tables at all means no IPv6 rules of ours either.
  if command -v "$IPT_SAVE" >/dev/null 2>&1; then remove_family; fi
done
echo "ambit-iptables: capture rules removed"
