#!/usr/bin/env bash
# Does a change of the data help? Build the default data of an earlier commit beside today's, train the
# cpu-profile baseline 5000 steps on each (same command and seed, two runs at once, one thread each), then
# score both checkpoints beside basic-pitch on both test splits with bench/peers.py, at the thresholds that
# score best on each split's validation pieces. About 40 minutes on 2 cores.
#     bash bench/data_change.sh [EARLIER_COMMIT]    # default 7812efc: two General MIDI pianos in a home-made reverb
# Everything it makes goes under runs/data-change/ (kept, so a second run only scores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
earlier=${1:-7812efc}
out="$root/runs/data-change/$earlier"
py="$root/.venv/bin/python"
mkdir -p "$out"
if [ ! -f "$out/data/data.json" ]; then
  git -C "$root" worktree add -f --detach "$out/source" "$earlier" >/dev/null
  (cd "$out/source" && "$py" -m data synth --size default --out "$out/data" --seed 0)
  git -C "$root" worktree remove --force "$out/source"
fi
for data in earlier today; do
  path=$([ $data = earlier ] && echo "$out/data" || echo "$root/data/default")
  if [ ! -f "$out/baseline-$data/model-5000.pt" ]; then
    (cd "$root/hw" && "$py" train.py --model_type baseline --profile cpu --seed 42 --threads 1 -i 5000 -vi 1000 \
      --data_path "$path" --logdir "$out/baseline-$data" > "$out/baseline-$data.log" 2>&1) &
  fi
done
wait
cp "$out/baseline-earlier/model-5000.pt" "$out/trained-on-$earlier.pt"
cp "$out/baseline-today/model-5000.pt" "$out/trained-on-today.pt"
for data in "$root/data/default" "$out/data"; do
  echo "== test split of $data"
  "$py" "$root/bench/peers.py" "$out/trained-on-today.pt" "$out/trained-on-$earlier.pt" --data_path "$data" \
    --thresholds validation 2>&1 | tr '\r' '\n' | grep -v "it/s\|s/it\|Loading\|^ *$"
done
