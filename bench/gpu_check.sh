#!/usr/bin/env bash
# The homework's full configuration on one GPU, in one prepared run (about 8 minutes on an H200):
#   1. seconds per training step of each model at the full profile, as train.py takes them (mixed precision);
#   2. the four full-profile 5k reference runs at once, one process each, then hw/log_examples/full/ (their logs
#      and bands) and the table for hw/README.md;
#   3. python -m grader grade on the solutions with the quick metric check trained on the GPU.
#
#     bash bench/gpu_check.sh [--steps 5000] [--data data/default] [--device cuda] [--profile full]
#                             [--amp off|on|auto] [--models baseline,rnn,crnn,onf] [--grade quick|none|skip]
#                             [--wheels DIR] [--logs hw/log_examples] [--out runs/gpu-check] [--tar FILE]
#
# --amp is train.py's (off, its default: float32; on: bfloat16 where the GPU has it); --models trains fewer
# references at once.
# --steps shortens the runs (validation every 1000 steps, or at the end) and the timing (20 steps at most); on
# CPU, --steps 2 --profile cpu --device cpu tests the whole path in a minute (tests/test_gpu_check.py).
# --wheels installs the packages a bare GPU image lacks, from wheels carried there. The runs skip the final
# test, so the test split need not be there. Getting the data onto a GPU machine without network:
# python bench/gpu_parts.py prints the device calls.
# Everything printed also goes to <out>/gpu_check.log; --tar packs <out> (without checkpoints) and the log
# examples it wrote into one file, also when a step failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=5000 data=data/default device=cuda profile=full amp=off models=baseline,rnn,crnn,onf grade=quick wheels=
logs=hw/log_examples out=runs/gpu-check tar=
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2 ;; --data) data=$2 ;; --device) device=$2 ;; --profile) profile=$2 ;; --grade) grade=$2 ;;
    --amp) amp=$2 ;; --models) models=$2 ;;
    --wheels) wheels=$2 ;; --logs) logs=$2 ;; --out) out=$2 ;; --tar) tar=$2 ;;
    *) echo "bench/gpu_check.sh: unknown option $1 (see the usage at the top of the script)"; exit 2 ;;
  esac
  shift 2
done
python=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python
[ -f "$data/data.json" ] || { echo "no data set at $data (data.json missing): build it (make data) or gather its parts"; exit 2; }
mkdir -p "$out" "$logs/$profile"
exec > >(tee "$out/gpu_check.log") 2>&1
pack() {                   # an if, not &&: without --tar a false test would become the script's exit status
  if [ -n "$tar" ]; then
    tar czf "$tar" --exclude='*.pt' --exclude='*/hw' -C "$(dirname "$out")" "$(basename "$out")" \
      -C "$(cd "$logs" && pwd)" "$profile"
  fi
}
trap pack EXIT
started=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - started )) s]"; }

if [ -n "$wheels" ]; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-check-site \
    "$wheels"/*.whl
  export PYTHONPATH=/tmp/gpu-check-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
"$python" -c "import torch, platform; print('python', platform.python_version(), '| torch', torch.__version__, '|',
  torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
git log -1 --format='commit %H' 2>/dev/null || true

echo "== 1. seconds per step, $profile profile, $device $(elapsed)"
"$python" bench/train_speed.py --profiles "$profile" --device "$device" --steps $(( steps < 20 ? steps : 20 )) \
  --amp "$amp" --data "$data" | tee "$out/speed.txt"

IFS=, read -r -a models <<< "$models"
echo "== 2. the ${#models[@]} $profile-profile references at once (${models[*]}), $steps steps $(elapsed)"
interval=$(( steps < 1000 ? steps : 1000 ))
threads=$(( $(nproc) / ${#models[@]} > 0 ? $(nproc) / ${#models[@]} : 1 ))
pids=()
for model in "${models[@]}"; do
  "$python" -m grader reference --profile "$profile" --set 5k --skip_test --amp "$amp" \
    --steps "$steps" --validation_interval "$interval" --models "$model" --threads "$threads" --device "$device" \
    --data_path "$data" --runs "$out/runs" --out "$logs" > "$out/reference-$model.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!models[@]}"; do
  wait "${pids[$i]}" || { failed=1; echo "reference run ${models[$i]} failed:"; tail -20 "$out/reference-${models[$i]}.log"; }
done
echo "references done $(elapsed)"
"$python" -m grader reference --profile "$profile" --table --out "$logs" | tee "$out/table.md"

if [ "$grade" != skip ]; then
  echo "== 3. the solutions graded, metric check $grade on $device $(elapsed)"
  grade_once() {
    "$python" -m grader grade solutions/model.py --metric-check "$grade" --device "$device" --data_path "$data" \
      --out "$out/grade.json" "$@" > "$out/grade.log" 2>&1
  }
  grade_once
  if grep -q '"grader error"' "$out/grade.json"; then
    # A bare GPU image has no bubblewrap and no grader user; the solutions are trusted code.
    grep -m1 "grader error" "$out/grade.log" || true
    echo "the sandbox cannot run here: grading the (trusted) solutions without it"
    grade_once --unsafe-no-sandbox
  fi
  "$python" -c "import json, sys; r = json.load(open(sys.argv[1])); print(f\"score {r['score']} of \" +
    str(sum(t.get('max_score', 0) for t in r['tests'])) + f\", isolation {r.get('isolation')}\")
for t in r['tests']: print(f\"  {t.get('score')}/{t.get('max_score')}  {t['name']}\")" "$out/grade.json"
fi
echo "gpu check done $(elapsed)"
exit $failed
