"""Reference runs: every model type trained with the solutions, kept as the logs students compare with.

Each run trains in a private copy of the handout whose model.py is the solution file, so it runs the
same train.py students run, one thread per run. Three sets (SETS): `5k` (the runs hw/README's table
reports), `quick` (200 steps, three seeds: the band of the quick metric check) and `debug` (what
`python train.py --debug` prints). Runs live in runs/reference/<profile>/[<set>/]<model>-seed<N>/ and
resume from their newest checkpoint, so a 5000-step run may be spread over several sittings. `collect`
writes hw/log_examples/<profile>/[<set>-]<model>.txt (the console log of the first seed) and .json
(validation metrics per step for every seed, the command that reproduces the run, versions, device, wall
time, and a tolerance band per metric and step).
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(ROOT, "runs", "reference")
LOG_EXAMPLES = os.path.join(ROOT, "hw", "log_examples")
BANDED = ["metric/loss/frame_loss", "metric/loss/onset_loss", "metric/frame/frame_f1", "metric/frame/onset_f1",
          "metric/note/f1", "metric/note-with-offsets/f1"]
LOWER_IS_BETTER = {"metric/loss/frame_loss", "metric/loss/onset_loss"}
BAND_FLOOR = 0.03          # the smallest half-width of a score's band, in metric units
LOSS_FLOOR = 0.10          # the smallest half-width of a loss's band, as a share of the mean loss
# name: the runs' subfolder and the log examples' prefix (None for the 5k set); test: whether the run
# ends with train.py's test; flags: train.py flags beyond --model_type, --profile and --seed.
SETS = {
    "5k": dict(steps=5000, validation_interval=1000, seeds=[42], name=None, test=True, flags=[]),
    "quick": dict(steps=200, validation_interval=100, seeds=[1, 2, 3], name="quick", test=False, flags=[]),
    "debug": dict(steps=100, validation_interval=10, seeds=[42], name="debug", test=True, flags=["--debug"]),
}


def run_folder(profile, model, seed, runs=RUNS, name=None):
    """runs/reference/<profile>/[<name>/]<model>-seed<N>: short runs (name quick) never meet long ones."""
    return os.path.join(runs, profile, *([name] if name else []), f"{model}-seed{seed}")


def checkpoint_step(path):
    """The step of a model-<step>.pt checkpoint; None for any other file (model-best.pt)."""
    match = re.search(r"model-(\d+)\.pt$", path)
    return int(match.group(1)) if match else None


def newest_checkpoint(logdir):
    numbered = {step: path for path in glob.glob(os.path.join(logdir, "model-*.pt"))
                if (step := checkpoint_step(path)) is not None}
    return numbered[max(numbered)] if numbered else None


def student_command(profile, model, seed, steps, validation_interval, flags=(), threads=1):
    """The train.py command line (in hw/) that repeats a reference run."""
    command = ["python", "train.py", "--model_type", model, "--profile", profile, "--seed", str(seed),
               "--threads", str(threads)]
    if "--debug" not in flags:
        command += ["-i", str(steps), "-vi", str(validation_interval)]
    return command + list(flags)


def train(profile, model, seed, steps, validation_interval, data_path, runs=RUNS, name=None, test=None, flags=(),
          threads=1, device=None):
    """Train (or continue training) one reference run on `device` (train.py's default when None); returns its
    log folder. By default a named (short) run skips the final test."""
    test = not name if test is None else test
    folder = run_folder(profile, model, seed, runs, name)
    handout = os.path.join(folder, "hw")
    logdir = os.path.join(folder, "log")
    finished = os.path.exists(os.path.join(logdir, "results.txt")) or not test
    if finished and newest_checkpoint(logdir) and newest_checkpoint(logdir).endswith(f"-{steps}.pt"):
        print(f"{profile}/{model} seed {seed}: already done")
        return logdir
    copy_handout(handout)
    repeat = student_command(profile, model, seed, steps, validation_interval, flags, threads)
    command = [sys.executable] + repeat[1:] + ["--data_path", os.path.abspath(data_path), "--logdir",
                                               os.path.abspath(logdir)]
    command += ([] if test else ["--skip_test"]) + (["--device", device] if device else [])
    checkpoint = newest_checkpoint(logdir)
    if checkpoint:
        command += ["--resume", checkpoint]
    print(f"{profile}/{model} seed {seed}: " + ("resuming from " + checkpoint if checkpoint else "starting"), flush=True)
    with open(os.path.join(folder, "source.json"), "w") as f:
        json.dump({"git_commit": source_commit(), "command": " ".join(repeat)}, f)
    run_stopping_with_us(command, handout)
    return logdir


def copy_handout(handout):
    """A fresh copy of today's handout with the solutions' model.py, for a reference run's train.py (and the
    tools that read its checkpoints)."""
    shutil.rmtree(handout, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "hw"), handout,
                    ignore=shutil.ignore_patterns("runs", "tests", "log_examples", "__pycache__", "*.md"))
    shutil.copyfile(os.path.join(ROOT, "solutions", "model.py"), os.path.join(handout, "model.py"))


def run_stopping_with_us(command, cwd):
    """subprocess.run(command, check=True), except that a SIGTERM to this process (`kill`, a job scheduler)
    stops the command too: an orphaned train.py would go on writing checkpoints beside the next sitting's."""
    stopped = []

    def stop(signum, frame):
        stopped.append(signum)
        process.terminate()
    with subprocess.Popen(command, cwd=cwd) as process:
        forward = threading.current_thread() is threading.main_thread()     # where Python allows handlers
        if forward:
            previous = signal.signal(signal.SIGTERM, stop)
        try:
            code = process.wait()
        finally:
            if forward:
                signal.signal(signal.SIGTERM, previous)
    if stopped:
        sys.exit(f"stopped by signal {stopped[0]}; the run resumes from its newest checkpoint")
    if code:
        raise subprocess.CalledProcessError(code, command)


def source_commit():
    """This repository's commit ("-dirty" when changed): train.py finds none when the runs folder lies
    outside the repository."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], capture_output=True,
                              text=True, cwd=ROOT).stdout.strip() or None
    except OSError:
        return None


def read_run(logdir):
    rows = {}
    with open(os.path.join(logdir, "metrics.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            rows[row["step"]] = row           # a resumed run may repeat a step: keep the newest row
    with open(os.path.join(logdir, "config.json")) as f:
        config = json.load(f)
    source = os.path.join(os.path.dirname(logdir), "source.json")
    if os.path.exists(source):
        with open(source) as f:
            source = json.load(f)
        config["git_commit"] = config.get("git_commit") or source["git_commit"]
        config["command"] = source.get("command")
    return [rows[step] for step in sorted(rows)], config


def band(values_per_seed, loss=False):
    """[low, high] per step: the seeds' range widened by max(2 standard deviations, the floor)."""
    values = np.array(values_per_seed)
    floor = LOSS_FLOOR * values.mean(axis=0) if loss else BAND_FLOOR
    margin = np.maximum(2 * values.std(axis=0), floor)
    return [[round(float(lo), 4), round(float(hi), 4)] for lo, hi in zip(values.min(axis=0) - margin,
                                                                         values.max(axis=0) + margin)]


def collect(profile, model, seeds, name=None, runs_folder=RUNS, out=LOG_EXAMPLES):
    """Write the log example and the band of one model from its finished runs (name: a short-run band,
    written as <name>-<model>)."""
    runs = [read_run(os.path.join(run_folder(profile, model, seed, runs_folder, name), "log")) for seed in seeds]
    steps = [row["step"] for row in runs[0][0]]
    if any([row["step"] for row in rows] != steps for rows, _ in runs):
        sys.exit(f"{profile}/{model}: the seeds' runs validated at different steps; finish them all first")
    config = runs[0][1]
    example = {
        "model_type": model, "profile": profile, "seeds": list(seeds), "steps": steps,
        "args": config["args"], "versions": {k: config[k] for k in ("python", "torch", "numpy")},
        "device": config["device"], "cpu_threads": config.get("cpu_threads"), "git_commit": config["git_commit"],
        "command": config.get("command"), "wall_time_seconds": [rows[-1]["elapsed"] for rows, _ in runs],
        "metrics": {str(seed): rows for seed, (rows, _) in zip(seeds, runs)},
        "band": {key: band([[row[key] for row in rows] for rows, _ in runs], loss=key in LOWER_IS_BETTER)
                 for key in BANDED},
        "band_rule": f"per step: the range over {len(seeds)} seed(s), widened on each side by the larger of "
                     f"2 standard deviations and {BAND_FLOOR} ({LOSS_FLOOR:.0%} of the mean for losses); "
                     "the metric check asks a loss to stay under the top and a score to stay over the bottom",
    }
    out = os.path.join(out, profile)
    os.makedirs(out, exist_ok=True)
    file_name = f"{name}-{model}" if name else model
    with open(os.path.join(out, f"{file_name}.json"), "w") as f:
        json.dump(example, f, indent=1)
    console = os.path.join(run_folder(profile, model, seeds[0], runs_folder, name), "log", "console.log")
    shutil.copyfile(console, os.path.join(out, f"{file_name}.txt"))
    return os.path.join(out, f"{file_name}.json")


TABLE_KEYS = ["metric/frame/frame_f1", "metric/frame/onset_f1", "metric/note/f1", "metric/note-with-offsets/f1"]


def table(profile, out=LOG_EXAMPLES):
    """A markdown table of the last validation of every log example of a profile (first seed)."""
    lines = ["| model | frame F1 | onset F1 | note F1 | note-with-offsets F1 | steps | training time |",
             "|---|---|---|---|---|---|---|"]
    for model in ["baseline", "rnn", "crnn", "onf"]:
        path = os.path.join(out, profile, f"{model}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            example = json.load(f)
        last = example["metrics"][str(example["seeds"][0])][-1]
        scores = " | ".join(f"{last[key]:.4f}" for key in TABLE_KEYS)
        lines.append(f"| {model} | {scores} | {last['step']} | {example['wall_time_seconds'][0] / 60:.0f} min |")
    return "\n".join(lines)
