#!/usr/bin/env bash
# Install or update ambit's capture rules. Idempotent: re-running with other
# options replaces the contents of our chains in one iptables-restore
# transaction per family, so there is no window with half a ruleset.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  echo "usage: apply.sh --uids LIST [--mesh-cidrs LIST] [--exempt-uid U] [--dns] [--strict-ports LIST] [--inbound-endpoints LIST] ..." >&2
  usage_common
}

parse_args "$@"
require_tools iptables iptables-save iptables-restore
wanted_families

for family in 4 6; do
  use_family "$family"
  if [[ " ${FAMILIES[*]} " != *" $family "* ]]; then
    # Not wanted (any more): clear what an earlier apply may have left.
    if command -v "$IPT_SAVE" >/dev/null 2>&1; then remove_family; fi
    continue
  fi
  load_tables
  desired_rules
  payload=''
  for table in "${AMBIT_TABLES[@]}"; do
    payload+="*$table"$'\n'
    # With --noflush, declaring a chain creates it if missing and flushes it if present.
    for chain in ${CHAINS[$table]}; do payload+=":$chain - [0:0]"$'\n'; done
    for rule in "${RULES[@]}"; do
      [[ $rule == "$table "* ]] && payload+="-A ${rule#"$table "}"$'\n'
    done
    for jump in ${JUMP_SPECS[$table]}; do
      # Keep an existing jump (and the created-table note it carries) as it is.
      has_jump "$table" "${jump%%:*}" "${jump#*:}" && continue
      comment=ambit
      has_table "$table" || comment=$AMBIT_CREATED_COMMENT
      # First in the hook, so host rules that ACCEPT early cannot bypass capture or STRICT.
      payload+="-I ${jump%%:*} 1 -m comment --comment $comment -j ${jump#*:}"$'\n'
    done
    payload+=$'COMMIT\n'
  done
  "$IPT_RESTORE" -w 10 --noflush <<<"$payload" || die "$IPT_RESTORE rejected the ruleset:"$'\n'"$payload"
done

use_family 4
families=${FAMILIES[*]}
echo "ambit-iptables: capture rules applied for IPv${families// //IPv} ($(backend) backend)"
