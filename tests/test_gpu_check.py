"""bench/gpu_check.sh and bench/gpu_parts.py on CPU: the data split into parts, gathered again by the printed
device commands, and the whole check (speed, four reference runs at once, grading) with two steps."""
import json
import os
import subprocess
import sys
import tarfile

import pytest

from bench.gpu_parts import MIB, ROOT

PART_MIB = 1.0


@pytest.fixture(scope="module")
def gathered_check(tiny_data, tmp_path_factory):
    """The parts of the tiny set, the device commands that gpu_parts.py prints run here in order, and what the
    last one packed."""
    work = tmp_path_factory.mktemp("gpu")
    flags = ["--steps", "2", "--profile", "cpu", "--device", "cpu", "--grade", "none", "--logs", str(work / "logs"),
             "--out", str(work / "out")]
    printed = subprocess.run([sys.executable, "bench/gpu_parts.py", "--data", tiny_data, "--out", str(work / "parts"),
                              "--part_mib", str(PART_MIB), "--no_wheels", "--gather_to", str(work / "gathered"),
                              "--", *flags], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = printed.splitlines()
    commands = [following.strip() for line, following in zip(lines, lines[1:]) if line.startswith("call ")]
    (work / "OUT").mkdir()
    outcomes = [subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "OUT": str(work / "OUT"), "PYTHON": sys.executable})
                for command in commands]
    return work, printed, commands, outcomes


def test_parts_stay_under_the_limit_and_gather_into_train_and_validation(gathered_check, tiny_data):
    work, printed, commands, outcomes = gathered_check
    assert len(commands) >= 2 and all(o.returncode == 0 for o in outcomes[:-1])
    parts = sorted(p for p in os.listdir(work / "parts") if p.startswith("part-"))
    assert len(parts) == len(commands)
    for part in parts:
        sizes = [os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(work / "parts" / part) for f in files]
        assert sum(sizes) <= PART_MIB * MIB
    with open(os.path.join(tiny_data, "data.json")) as f:
        records = json.load(f)
    kept = {r[key] for r in records if r["split"] in ("train", "validation") for key in ("audio_filename",
                                                                                        "midi_filename")}
    name = os.path.basename(tiny_data)
    gathered = {os.path.relpath(os.path.join(d, f), work / "gathered" / name)
                for d, _, files in os.walk(work / "gathered" / name) for f in files if ".cache" not in d}
    assert gathered == kept | {"data.json"}              # the test split stays behind
    for path in kept:
        with open(os.path.join(tiny_data, path), "rb") as a, open(work / "gathered" / name / path, "rb") as b:
            assert a.read() == b.read()


def test_the_check_measures_trains_four_references_at_once_and_grades(gathered_check):
    work, printed, commands, outcomes = gathered_check
    last = outcomes[-1]
    assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
    log = (work / "out" / "gpu_check.log").read_text()
    for model in ("baseline", "rnn", "crnn", "onf"):
        assert f"{model}:" in (work / "out" / "speed.txt").read_text()
        example = json.loads((work / "logs" / "cpu" / f"{model}.json").read_text())
        assert example["steps"] == [2] and example["args"]["skip_test"] is True
        assert set(example["band"]) >= {"metric/note/f1", "metric/loss/onset_loss"}
    assert "references done" in log and "gpu check done" in log
    grade = json.loads((work / "out" / "grade.json").read_text())
    assert grade["score"] == sum(t["max_score"] for t in grade["tests"]) > 0
    with tarfile.open(work / "OUT" / "gpu-check.tgz") as packed:
        names = packed.getnames()
    assert {"out/gpu_check.log", "out/speed.txt", "out/table.md", "out/grade.json", "cpu/onf.json",
            "cpu/onf.txt"} <= set(names)
    assert not [n for n in names if n.endswith(".pt") or "/hw/" in n]


def test_missing_data_is_named_before_anything_runs(tmp_path):
    result = subprocess.run(["bash", "bench/gpu_check.sh", "--data", str(tmp_path / "nowhere"), "--out",
                             str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "no data set at" in result.stdout and not (tmp_path / "out").exists()
    result = subprocess.run([sys.executable, "bench/gpu_parts.py", "--data", str(tmp_path), "--out",
                             str(tmp_path / "parts")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "has no data.json: build it first" in result.stderr


def test_fewer_references_in_float32_when_asked(gathered_check, tiny_data):
    work = gathered_check[0]
    data = work / "gathered" / os.path.basename(tiny_data)
    result = subprocess.run(["bash", "bench/gpu_check.sh", "--data", str(data), "--steps", "2", "--profile", "cpu",
                             "--device", "cpu", "--amp", "off", "--models", "crnn,onf", "--grade", "skip", "--logs",
                             str(work / "logs-fp32"), "--out", str(work / "out-fp32")],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "the 2 cpu-profile references at once (crnn onf)" in result.stdout
    assert sorted(os.listdir(work / "logs-fp32" / "cpu")) == ["crnn.json", "crnn.txt", "onf.json", "onf.txt"]
    for model in ("crnn", "onf"):
        example = json.loads((work / "logs-fp32" / "cpu" / f"{model}.json").read_text())
        assert "--amp off" in example["command"]


def test_the_largest_files_are_set_aside_when_the_tree_and_a_part_pass_a_call():
    from bench.gpu_parts import CALL_MIB, files_to_set_aside, working_tree
    tree = working_tree()
    assert tree and all(a[1] >= b[1] for a, b in zip(tree, tree[1:]))
    assert "bench/gpu_parts.py" in dict(tree) and not any(path.startswith(".venv/") for path, _ in tree)
    part = 56 * MIB
    aside = files_to_set_aside(tree, part)
    kept = sum(size for path, size in tree if path not in aside)
    assert kept + part <= CALL_MIB * MIB
    assert aside == [path for path, _ in tree[:len(aside)]]          # the largest, and no more than needed
    if aside:
        assert kept + dict(tree)[aside[-1]] + part > CALL_MIB * MIB
    assert files_to_set_aside([("a", 5 * MIB), ("b", MIB)], 50 * MIB) == []


def test_the_committed_full_profile_logs_come_from_a_gpu_and_learned():
    folder = os.path.join(ROOT, "hw", "log_examples", "full")
    examples = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    assert "baseline.json" in examples
    for name in examples:
        example = json.load(open(os.path.join(folder, name)))
        last = example["metrics"][str(example["seeds"][0])][-1]
        assert example["profile"] == "full" and example["steps"][-1] == last["step"] == 5000
        assert example["args"]["device"].startswith("cuda") and "CPU" not in example["device"]
        assert last["metric/note/f1"] > 0.3, f"{name}: a reference run that learned no notes is no reference"
        assert os.path.exists(os.path.join(folder, name.replace(".json", ".txt")))
