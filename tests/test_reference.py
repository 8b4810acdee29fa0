"""`python -m grader reference`: real (short) runs of the solutions, resumption, log examples and bands."""
import json
import os
import subprocess
import sys

from grader.reference import BAND_FLOOR, LOSS_FLOOR, LOWER_IS_BETTER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reference(tmp_path, tiny_data, steps, seeds):
    return subprocess.run([sys.executable, "-m", "grader", "reference", "--profile", "cpu", "--steps", str(steps),
                           "--validation_interval", "2", "--models", "rnn", "--seeds", *map(str, seeds),
                           "--data_path", tiny_data, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True)


def test_reference_runs_resume_and_write_bands(tiny_data, tmp_path):
    first = reference(tmp_path, tiny_data, 2, [1, 2])
    assert first.returncode == 0, first.stderr[-3000:]
    second = reference(tmp_path, tiny_data, 4, [1, 2])            # more steps: both seeds resume at step 2
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("resuming from") == 2
    example = json.load(open(tmp_path / "out" / "cpu" / "rnn.json"))
    assert example["steps"] == [2, 4] and example["seeds"] == [1, 2]
    assert example["versions"]["torch"] and example["device"] and len(example["wall_time_seconds"]) == 2
    commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    assert example["git_commit"] == commit           # although the runs folder lies outside the repository
    for key, bands in example["band"].items():
        for i, (low, high) in enumerate(bands):
            values = [example["metrics"][seed][i][key] for seed in ("1", "2")]
            # a loss band is at least 20 % of the mean wide (less the rounding of its ends), a score band 0.06
            least = 2 * LOSS_FLOOR * sum(values) / 2 - 2e-4 if key in LOWER_IS_BETTER else 2 * BAND_FLOOR
            assert low <= min(values) and max(values) <= high and high - low >= least
    console = (tmp_path / "out" / "cpu" / "rnn.txt").read_text()
    assert "metric/note/f1              : " in console and "resumed from" in console
    third = reference(tmp_path, tiny_data, 4, [1, 2])
    assert third.stdout.count("already done") == 2
    table = subprocess.run([sys.executable, "-m", "grader", "reference", "--profile", "cpu", "--table", "--out",
                            str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    rows = table.stdout.splitlines()
    assert rows[0].startswith("| model | frame F1") and rows[2].startswith("| rnn | ") and "| 4 |" in rows[2]


def test_the_debug_set_is_what_train_debug_prints(tiny_data, tmp_path):
    result = subprocess.run([sys.executable, "-m", "grader", "reference", "--set", "debug", "--models", "rnn",
                             "--data_path", tiny_data, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    example = json.load(open(tmp_path / "out" / "cpu" / "debug-rnn.json"))
    assert example["command"] == "python train.py --model_type rnn --profile cpu --seed 42 --threads 1 --debug"
    assert example["steps"] == list(range(10, 101, 10)) and example["cpu_threads"] == 1
    assert example["args"]["debug"] and not example["args"]["skip_test"]
    console = (tmp_path / "out" / "cpu" / "debug-rnn.txt").read_text()
    assert "threads 1" in console and "note f1" in console                     # it ends with the test
    # The same command, run by hand in a copy of the handout, prints the same validation losses.
    run = tmp_path / "runs" / "cpu" / "debug" / "rnn-seed42"
    again = subprocess.run([sys.executable, *example["command"].split()[1:], "--data_path", tiny_data, "--logdir",
                            str(tmp_path / "again")], cwd=run / "hw", capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = [json.loads(line) for line in open(tmp_path / "again" / "metrics.jsonl")]
    reference = example["metrics"]["42"]
    for key in ("metric/loss/frame_loss", "metric/loss/onset_loss"):
        assert [round(row[key], 4) for row in rows] == [round(row[key], 4) for row in reference]
