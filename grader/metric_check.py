"""Metric check: train the student's model in the sandbox exactly as a reference run, compare with its band.

`quick` trains each model for 200 steps on the cpu profile (minutes on a CPU) against the band of three
short reference runs (hw/log_examples/cpu/quick-<model>.json); `5k` trains 5000 steps against the 5k
reference logs of the profile (hw/log_examples/<profile>/<model>.json), meant for a GPU server.
The sandbox sees the handout, the student's model.py, and the train and validation splits read-only
(with their label cache); never the test split.
"""
import glob
import json
import os
import sys

from . import hidden_tests  # noqa: F401  (puts the handout's modules on the path)
from .reference import LOG_EXAMPLES, LOWER_IS_BETTER
from .sandbox import Limits, Sandbox, read_json_lines

CHECKS = {
    "quick": dict(profile="cpu", name="quick-{model}", wall_seconds=900),     # steps and flags: from the band's file
    "5k": dict(profile="cpu", name="{model}", wall_seconds=4 * 3600),
}
POINTS = 2          # per model type


def band_file(check, model, profile=None):
    spec = CHECKS[check]
    return os.path.join(LOG_EXAMPLES, profile or spec["profile"], spec["name"].format(model=model) + ".json")


def sandbox_data(box, data_path, staging):
    """Bind the train and validation splits (and their cache files) at /grade/data; returns that path.
    Without a sandbox (--unsafe-no-sandbox) binds are only names, so the command reads data_path itself."""
    from dataset import MAESTRO_small, cache_folder
    for split in ["train", "validation"]:                 # fill the cache here, in the trusted process
        MAESTRO_small(data_path, groups=[split], sequence_length=None)
    if box.unsafe:
        return data_path
    with open(os.path.join(data_path, "data.json")) as f:
        records = [r for r in json.load(f) if r["split"] in ("train", "validation")]
    os.makedirs(os.path.join(staging, ".cache"))
    with open(os.path.join(staging, "data.json"), "w") as f:
        json.dump(records, f)
    cache = cache_folder(data_path)
    stems = {os.path.splitext(r["audio_filename"])[0].replace("/", "__") for r in records}
    cached = [p for p in glob.glob(os.path.join(cache, "*.npy")) if os.path.basename(p).split(".")[0] in stems]
    for path in cached:
        open(os.path.join(staging, ".cache", os.path.basename(path)), "w").close()
    for split in ["train", "validation"]:
        os.makedirs(os.path.join(staging, split))
    inside = box.read_only(staging, "data")
    for split in ["train", "validation"]:
        box.read_only(os.path.join(data_path, split), f"data/{split}")
    for path in cached:
        box.read_only(path, f"data/.cache/{os.path.basename(path)}")
    return inside


def metric_check(check, model_type, handout, work, data_path, unsafe=False, profile=None, seed=None, band_path=None,
                 device="cpu"):
    """Train one model type in the sandbox (on `device`, cpu or cuda) and judge its validation metrics;
    returns a test dict."""
    spec = CHECKS[check]
    profile = profile or spec["profile"]
    title = f"metric check ({check}): {model_type} trains like the reference"
    test = {"name": title, "score": 0.0, "max_score": POINTS, "model": model_type, "check": f"metric-{check}"}
    path = band_path or band_file(check, model_type, profile)
    if not os.path.exists(path):
        test["output"] = f"no reference band at {path}: run `python -m grader reference` for it first"
        return test
    with open(path) as f:
        reference = json.load(f)
    seed = reference["seeds"][0] if seed is None else seed
    steps = reference["steps"][-1]
    run_dir = os.path.join(work, f"metric-{check}-{model_type}")
    os.makedirs(run_dir)
    # One thread, as the cpu-profile references were trained: the same arithmetic, and a class graded with
    # --jobs N uses N cores (two threads per job on a busy machine measured several times slower).
    box = Sandbox(unsafe=unsafe, limits=Limits(wall_seconds=spec["wall_seconds"], cpu_seconds=8 * spec["wall_seconds"],
                                               memory_bytes=12 << 30, processes=128, file_bytes=1 << 30,
                                               threads=1, gpu=device.startswith("cuda")))
    data = sandbox_data(box, data_path, os.path.join(work, f"data-{check}-{model_type}"))
    hw = box.read_only(handout, "hw")
    logdir = box.writable(run_dir, "run")
    args = reference["args"]
    command = [sys.executable, f"{hw}/train.py", "--model_type", model_type, "--profile", profile,
               "-i", str(steps), "-vi", str(args["validation_interval"]), "--seed", str(seed),
               "-b", str(args["batch_size"]), "-v", str(args["sequence_length"]), "-cnn", str(args["cnn_unit"]),
               "-fc", str(args["fc_unit"]), "-lr", str(args["learning_rate"]), "--data_path", data,
               "--logdir", logdir, "--skip_test", "--device", device]
    outcome = box.run(command, cwd=hw)
    rows = read_metrics(os.path.join(run_dir, "metrics.jsonl"))
    if not outcome.ok and not rows:
        test["output"] = f"training did not finish: {outcome.reason(box.limits)}"
        return test
    test["score"], test["output"] = judge(rows, reference)
    if not outcome.ok:
        test["output"] += f" (training stopped early: {outcome.reason(box.limits)})"
    test["output"] += "\n" + curve(rows, reference)
    test["metrics"] = rows
    return test


def read_metrics(path):
    """Validation rows of the run's metrics.jsonl, by step (the last row of a step counts)."""
    rows = {}
    for row in read_json_lines(path):
        try:
            rows[int(row["step"])] = {k: float(v) for k, v in row.items() if k.startswith("metric/")}
        except (ValueError, KeyError, TypeError):
            continue
    return [dict(step=step, **rows[step]) for step in sorted(rows)]


def curve(rows, reference):
    """The run's note F1 and frame F1 at each validation step beside the band's floor: what an instructor
    looks at to judge a borderline run, and what a student compares with the reference log."""
    by_step = {row["step"]: row for row in rows}
    lines = ["   step  note F1 (band floor)  frame F1 (band floor)"]
    for index, step in enumerate(reference["steps"]):
        cells = []
        for key in ("metric/note/f1", "metric/frame/frame_f1"):
            value = by_step.get(step, {}).get(key)
            floor = max(reference["band"][key][index][0], 0.0)          # F1 is never below 0
            shown = "missing" if value is None else f"{value:.4f}"
            cells.append(f"{shown} ({floor:.4f})")
        lines.append(f"{step:>7}  {cells[0]:<20}  {cells[1]}")
    return "\n".join(lines)


def judge(rows, reference):
    """Points for the share of (metric, step) pairs on the right side of the band: a loss no higher than
    the band's top, a score no lower than its bottom (being better than the reference is never penalised)."""
    by_step = {row["step"]: row for row in rows}
    passed, total, misses = 0, 0, []
    for key, ranges in reference["band"].items():
        for step, (low, high) in zip(reference["steps"], ranges):
            total += 1
            value = by_step.get(step, {}).get(key)
            ok = value is not None and (value <= high if key in LOWER_IS_BETTER else value >= low)
            passed += ok
            if not ok:
                bound = f"<= {high:.4f}" if key in LOWER_IS_BETTER else f">= {low:.4f}"
                shown = "missing" if value is None else f"{value:.4f}"
                misses.append(f"{key.split('/', 1)[1]} at step {step}: {shown}, reference band {bound}")
    score = POINTS * passed / total if total else 0.0
    summary = f"{passed} of {total} validation metrics within the reference band"
    return score, summary + ("; " + "; ".join(misses[:4]) if misses else "")
