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
  "$work/clone/.venv/bin/python" - "$work/clone/data/default" "$(cd "$1" && pwd)" <<'PY'
import json, os, sys
fresh, earlier = sys.argv[1:3]
records = json.load(open(os.path.join(fresh, "data.json")))
names = [r[key] for r in records for key in ("audio_filename", "midi_filename")] + ["data.json"]
same = sum(open(os.path.join(fresh, n), "rb").read() == open(os.path.join(earlier, n), "rb").read() for n in names)
print(f"{same} of {len(names)} files are byte for byte those of {earlier}")
PY
fi
