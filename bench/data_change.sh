#!/usr/bin/env bash
# Does a change of the data help? Build the default data of an earlier commit beside today's, train the
# cpu-profile baseline on each (same command and seed, two runs at once, one thread each), then score both
# checkpoints beside basic-pitch on both test splits with bench/peers.py, at the thresholds that score best
# on each split's validation pieces. About 40 minutes on 2 cores for 5000 steps.
#     bash bench/data_change.sh [EARLIER_COMMIT] [STEPS]   # defaults: 7812efc (two General MIDI pianos in a
#                                                          # home-made reverb), 5000
# Everything it makes goes under runs/data-change/ and is kept: a second run only scores, and a run with
# more steps continues the same two runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
earlier=${1:-7812efc}
steps=${2:-5000}
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
  kept="$out/trained-on-$([ $data = earlier ] && echo "$earlier" || echo today)-$steps.pt"
  [ -f "$kept" ] && continue
  resume=$(ls "$out/baseline-$data"/model-[0-9]*.pt 2>/dev/null | sort -V | tail -1 || true)
  (cd "$root/hw" && "$py" train.py --model_type baseline --profile cpu --seed 42 --threads 1 -i "$steps" -vi 1000 \
     --data_path "$path" --logdir "$out/baseline-$data" ${resume:+--resume "$resume"} >> "$out/baseline-$data.log" 2>&1 \
   && cp "$out/baseline-$data/model-$steps.pt" "$kept") &
done
wait
for kept in "$out/trained-on-today-$steps.pt" "$out/trained-on-$earlier-$steps.pt"; do
  [ -f "$kept" ] || { echo "no $kept: see the training logs in $out"; exit 1; }
done
for data in "$root/data/default" "$out/data"; do
  echo "== test split of $data"
  "$py" "$root/bench/peers.py" "$out/trained-on-today-$steps.pt" "$out/trained-on-$earlier-$steps.pt" \
    --data_path "$data" --thresholds validation 2>&1 | tr '\r' '\n' | grep -v "it/s\|s/it\|Loading\|^ *$"
done
