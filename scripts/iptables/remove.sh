#!/usr/bin/env bash
# Remove every ambit jump and chain, in IPv4 and IPv6, whatever options apply.sh
# was given; tables apply.sh had to create are deleted again once empty, so
# iptables-save reads as it did before. Safe to run when nothing is installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat >&2 <<'EOF'
usage: remove.sh                          remove ambit's jumps and chains (IPv4 and IPv6), and the tables apply.sh created
       remove.sh --jumps-only             remove only the jumps: nothing new is captured, while connections already
                                          redirected keep working (what ambitd does when it starts to drain);
                                          prints "created-tables: 4:nat ..." for the removal that follows
       remove.sh --created-tables F:T,..  the full removal after --jumps-only, told which tables apply.sh created
EOF
}
JUMPS_ONLY=0
declare -A CREATED=([4]='' [6]='')
case ${1-} in
  '') ;;
  -h | --help) usage; exit 0 ;;
  --jumps-only) [[ $# == 1 ]] || { usage; die "--jumps-only takes no arguments"; }; JUMPS_ONLY=1 ;;
  --created-tables)
    [[ $# == 2 ]] || { usage; die "--created-tables takes one list, e.g. 4:nat,6:nat"; }
    IFS=, read -ra specs <<<"$2"
    for spec in "${specs[@]}"; do
      [[ $spec =~ ^([46]):(nat|filter|mangle|raw)$ ]] || { usage; die "--created-tables: \"$spec\" is not FAMILY:TABLE (e.g. 4:nat)"; }
      CREATED[${BASH_REMATCH[1]}]+="${BASH_REMATCH[2]} "
    done ;;
  *) usage; die "unknown option \"$1\"" ;;
esac

require_tools iptables iptables-save iptables-restore
found=()
for family in 4 6; do
  use_family "$family"
  CREATED_TABLES=${CREATED[$family]}
  # No ip6tables at all means no IPv6 rules of ours either.
  if command -v "$IPT_SAVE" >/dev/null 2>&1; then
    remove_family
    for table in "${FOUND_CREATED[@]}"; do found+=("$family:$table"); done
  fi
done
if [[ $JUMPS_ONLY == 1 ]]; then
  echo "ambit-iptables: capture jumps removed (chains kept until connections drain)"
  ((${#found[@]} == 0)) || echo "created-tables: $(IFS=,; echo "${found[*]}")"
else
  echo "ambit-iptables: capture rules removed"
fi
