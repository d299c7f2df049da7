#!/usr/bin/env bash
# Every benchmark of the project, one after the other; results in bench/results/.
set -euo pipefail
cd "$(dirname "$0")"
for script in spine.sh peer.sh credits.sh admin.sh avatars.sh; do
  [ -f "$script" ] && bash "$script"
done
