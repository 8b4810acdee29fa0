"""grader/pretrained.py: a real (short) run of the pretrained transcriber's recipe, resumed, then exported."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import onnx
import pytest
import torch

from constants import FRAME_SWEEP, ONSET_SWEEP, WEAK_ONSET_SWEEP
from data.render import PIANOS, UNSEEN_PIANO
from data.synth import BUILD_VERSION
from export import stored_threshold
from grader.blend import blend_name, blend_shares, blended_weights
from grader.pretrained import (MODEL, OUT, PROFILE, RUNS, SEED, blend_pretrained, curve_table, data_history,
                               earlier_compositions_kept, export_pretrained, figures_paragraph, readme_figures,
                               shipped_checkpoint, train_pretrained)
from grader.reference import ROOT, checkpoint_step, newest_checkpoint, run_folder


def test_the_pretrained_recipe_trains_resumes_and_exports(tiny_data, tmp_path):
    runs, out = str(tmp_path / "runs"), str(tmp_path / "pretrained")
    train_pretrained(2, 1, tiny_data, runs)
    # A later sitting continues the same run, on a larger set with the same validation pieces (here: the
    # tiny set less one training piece, as a real set of another size is too slow to build for a test).
    records = json.load(open(os.path.join(tiny_data, "data.json")))
    other = str(tmp_path / "other")
    shutil.copytree(tiny_data, other, ignore=shutil.ignore_patterns(".cache"))
    train = [r for r in records if r["split"] == "train"]
    with open(os.path.join(other, "data.json"), "w") as f:
        json.dump([r for r in records if r is not train[0]], f)
    logdir = train_pretrained(4, 1, other, runs, flags=["--augment"])
    assert os.path.exists(os.path.join(logdir, "model-best-until-2.pt"))     # a new recipe starts a new best
    assert torch.load(os.path.join(logdir, "model-best.pt"), weights_only=True)["step"] == 4
    console = open(os.path.join(logdir, "console.log")).read()
    assert "resumed from" in console and "random equalisers" in console
    unlike = str(tmp_path / "unlike")                                      # other validation pieces: refused
    shutil.copytree(other, unlike, ignore=shutil.ignore_patterns(".cache"))
    with open(os.path.join(unlike, "data.json"), "w") as f:
        json.dump([r for r in records if r["split"] != "validation"], f)
    with pytest.raises(SystemExit, match="other validation pieces"):
        train_pretrained(6, 1, unlike, runs)
    with pytest.raises(SystemExit, match="build it first"):
        train_pretrained(6, 1, str(tmp_path / "unbuilt"), runs)
    train_pretrained(6, 1, other, runs, flags=["--augment"])        # the same data and flags: one span
    best = torch.load(os.path.join(logdir, "model-best.pt"), weights_only=True)["step"]
    train_pretrained(8, 2, other, runs, flags=["--augment"], learning_rate=3e-4)      # a span of its own
    assert "at step 6, learning rate 0.0003" in open(os.path.join(logdir, "console.log")).read()
    optimizer = torch.load(os.path.join(logdir, "model-8.pt"), weights_only=True)["optimizer_state_dict"]
    assert optimizer["param_groups"][0]["lr"] == 3e-4              # train.py decays it every 1,000 steps only
    assert torch.load(os.path.join(logdir, "model-best.pt"), weights_only=True)["step"] in (best, 8)   # kept
    os.makedirs(out)
    with open(os.path.join(out, "peers.json"), "w") as f:   # figures of an earlier transcriber
        f.write("{}")
    path = export_pretrained(tiny_data, runs, out)
    assert not os.path.exists(os.path.join(out, "peers.json"))   # gone with the transcriber they measured
    assert os.path.getsize(path) < 25 * 2 ** 20
    stored = {m.key: m.value for m in onnx.load(path).metadata_props}
    assert stored["model_type"] == MODEL
    config = json.load(open(os.path.join(out, "config.json")))
    assert float(stored["onset_threshold"]) == config["thresholds"]["onset_threshold"] in ONSET_SWEEP
    assert float(stored["frame_threshold"]) == config["thresholds"]["frame_threshold"] in FRAME_SWEEP
    weak = config["thresholds"]["weak_onset_threshold"]
    assert stored_threshold(stored["weak_onset_threshold"], "absent") == weak in WEAK_ONSET_SWEEP
    assert config["trained_steps"] == 8 and config["model_type"] == MODEL and config["step"] in (4, 6, 8)
    assert torch.load(shipped_checkpoint(runs, out), weights_only=True)["step"] == config["step"]
    heard = {r["piano"] for r in train}                  # one licence line per piano of the training pieces
    assert len(config["pianos_heard"]) == len(heard) and all(PIANOS[p].licence in config["pianos_heard"] for p in heard)
    assert PIANOS[UNSEEN_PIANO].licence not in config["pianos_heard"]      # the held-out test piano is not one
    first, second, third = config["data"]
    assert first["steps"] == [0, 2] and second["steps"] == [2, 6] and third["steps"] == [6, 8]
    assert first["flags"] == [] and second["flags"] == third["flags"] == ["--augment"]
    assert "learning rate" not in second and third["learning rate"] == [pytest.approx(6e-4), 3e-4]
    assert first["build"] == second["build"] == "python -m data synth --size tiny --seed 0"
    assert first["build version"] == second["build version"] == BUILD_VERSION
    assert first["data.json sha256"] != second["data.json sha256"]
    assert first["validation sha256"] == second["validation sha256"]
    assert config["continue_with"].endswith(f"--data_path {second['path']} --augment")   # as the last sitting
    assert " --threads 2 --keep_weights " in config["continue_with"]          # the last sitting's threads
    assert first["composition"][0].split()[:2] == ["train:", str(len(train))]
    assert second["composition"][0].split()[:2] == ["train:", str(len(train) - 1)]
    assert [json.loads(line)["step"] for line in open(os.path.join(out, "metrics.jsonl"))] == [2, 4, 6, 8]
    # A data set rebuilt since it was trained on: the next export keeps the composition this one recorded.
    with open(os.path.join(other, "data.json"), "w") as f:
        json.dump(records, f)
    history = data_history(run_folder(PROFILE, MODEL, SEED, runs), 8, tiny_data)
    assert "composition" not in history[1] and "composition" in history[0]
    assert [span.get("composition") for span in earlier_compositions_kept(history, out)] == [
        span["composition"] for span in config["data"]]
    table = curve_table(out, every=4).splitlines()
    expected = [f"{step} (shipped)" if step == config["step"] else str(step)
                for step in [2, 4, 6, 8] if step % 4 == 0 or step in (config["step"], 8)]
    assert table[0] == "| step | " + " | ".join(expected) + " |", table[0]
    assert table[2].startswith("| note F1 | 0.") and len(table) == 4
    assert "no " + os.path.join(out, "peers.json") + " yet" in readme_figures(out)
    assert os.path.exists(os.path.join(out, "training_log.txt"))
    # What transcribe.py --pretrained loads: the exported file, through onnxruntime, velocities included.
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    result = subprocess.run([sys.executable, "transcribe.py", path, os.path.join(tiny_data, record["audio_filename"]),
                             "--out", str(tmp_path / "out")], cwd=os.path.join(ROOT, "hw"), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.exists(run_folder("cpu", MODEL, 42, runs))


def test_a_blend_of_two_checkpoints_is_chosen_on_validation_and_exported(tiny_data, tmp_path):
    runs, out, stretch = str(tmp_path / "runs"), str(tmp_path / "pretrained"), str(tmp_path / "stretch")
    logdir = train_pretrained(2, 1, tiny_data, runs, keep_weights=stretch)
    train_pretrained(4, 1, tiny_data, runs, learning_rate=3e-3, keep_weights=stretch)
    assert sorted(os.listdir(logdir)) == ["config.json", "console.log", "metrics.jsonl", "model-4.pt", "model-best.pt"]
    assert sorted(os.listdir(stretch)) == ["model-2.pt", "model-4.pt"]     # the one train.py deleted, kept
    kept = torch.load(os.path.join(stretch, "model-2.pt"), weights_only=True)
    assert kept["step"] == 2 and kept["model_type"] == MODEL and "optimizer_state_dict" not in kept
    first, second = (torch.load(path, weights_only=True)["model_state_dict"]
                     for path in (os.path.join(stretch, "model-2.pt"), os.path.join(logdir, "model-4.pt")))
    half = blended_weights([first, second], [0.5, 0.5])
    name = next(k for k, v in first.items() if v.is_floating_point() and not torch.equal(v, second[k]))
    assert torch.allclose(half[name], (first[name] + second[name]) / 2)
    at_zero = blended_weights([first, second], [1, 0])
    assert all(torch.equal(at_zero[k], first[k] if first[k].is_floating_point() else second[k])   # counters: the
               for k in first)                                                                    # later's
    blended = blend_pretrained(["model-4.pt", os.path.join(stretch, "model-2.pt")], [0.0, 0.5, 1.0], tiny_data, runs)
    assert blended["blend"]["steps"] == [2, 4] and blended["step"] == 4       # ordered by step, as given or not
    assert "later_mean_of" not in blended["blend"]
    figures = {row["weights"][1]: row for row in blended["validation"]}
    assert list(figures) == [0.0, 0.5, 1.0] and blended["blend"]["weights"][1] == max(
        figures, key=lambda weight: figures[weight]["score"])
    for row in figures.values():           # in tune, 25 cents flat and sharp, and in noise, at the thresholds
        sums = [row[played]["note F1"] + row[played]["note-with-offsets F1"]                  # chosen in tune
                for played in ("-25 cents", "+25 cents", "noise 20 dB")]
        assert row["score"] == pytest.approx((row["note F1"] + row["note-with-offsets F1"] + sum(sums)) / 4, abs=2e-4)
    chosen = blended["blend"]["weights"][1]
    expected = blended_weights([first, second], [1 - chosen, chosen])
    assert all(torch.allclose(blended["model_state_dict"][k].double(), expected[k].double()) for k in first)
    assert "optimizer_state_dict" not in blended                     # weights only: never resumed from
    path = export_pretrained(tiny_data, runs, out, checkpoint=blend_name(4))
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["checkpoint"] == "model-blend-4.pt" and config["blend"] == blended["blend"]
    assert len(config["validation"]) == 3 and shipped_checkpoint(runs, out) == os.path.join(logdir, "model-blend-4.pt")
    header = curve_table(out, every=4).splitlines()[0]
    if 0 < chosen < 1:
        assert f"2 (shipped, x{1 - chosen:g})" in header and f"4 (shipped, x{chosen:g})" in header
    else:                                             # one of the two unused: only the other is marked, unweighted
        assert header.count("shipped") == 1 and f"{2 if chosen == 0 else 4} (shipped)" in header
    assert os.path.getsize(path) < 25 * 2 ** 20
    with pytest.raises(SystemExit, match="name two or more checkpoints"):
        blend_pretrained(["model-4.pt", "model-3.pt"], [0.5], tiny_data, runs)
    shipped = open(os.path.join(logdir, "model-blend-4.pt"), "rb").read()
    with pytest.raises(SystemExit, match="model-blend-4.pt already exists"):     # the shipped blend is never replaced
        blend_pretrained(["model-4.pt", os.path.join(stretch, "model-2.pt")], [1.0], tiny_data, runs)
    assert open(os.path.join(logdir, "model-blend-4.pt"), "rb").read() == shipped

    # The later end may be the mean of a stretch of checkpoints (their kept weights, or names in the log folder).
    train_pretrained(6, 1, tiny_data, runs, keep_weights=stretch)
    third = torch.load(os.path.join(logdir, "model-6.pt"), weights_only=True)["model_state_dict"]
    blended = blend_pretrained([os.path.join(stretch, "model-2.pt"), os.path.join(stretch, "model-4.pt"), "model-6.pt"],
                               [0.5], tiny_data, runs)
    assert blended["blend"] == {"steps": [2, 6], "weights": [0.5, 0.5], "later_mean_of": [4, 6]}
    assert torch.allclose(blended["model_state_dict"][name].double(),
                          (2 * first[name].double() + second[name].double() + third[name].double()) / 4)
    export_pretrained(tiny_data, runs, out, checkpoint=blend_name(6))
    assert "6 (shipped, x0.5 in the mean of 4-6)" in curve_table(out, every=4).splitlines()[0]

    # A blend may be the earlier end of the next one; the new blend keeps its recipe, and the table its steps.
    earlier = blended
    train_pretrained(8, 1, tiny_data, runs)
    blended = blend_pretrained([blend_name(6), "model-8.pt"], [0.5], tiny_data, runs)
    assert blended["blend"]["steps"] == [6, 8] and blended["blend"]["earlier"] == {"blend": earlier["blend"]}
    assert blend_shares(blended["blend"]) == [(2, 0.25, None), (6, 0.25, [4, 6]), (8, 0.5, None)]
    export_pretrained(tiny_data, runs, out, checkpoint=blend_name(8))
    header = curve_table(out, every=4).splitlines()[0]
    for mark in ("2 (shipped, x0.25)", "6 (shipped, x0.25 in the mean of 4-6)", "8 (shipped, x0.5)"):
        assert mark in header


def test_stopping_a_sitting_stops_its_training_process(tiny_data, tmp_path):
    """`kill` on the sitting must not leave train.py running on, beside the next sitting's, into the same folder."""
    runs = str(tmp_path / "runs")
    sitting = subprocess.Popen([sys.executable, "-c", "import sys; from grader.pretrained import train_pretrained; "
                                "train_pretrained(100000, 1, sys.argv[1], sys.argv[2])", tiny_data, runs], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = f"/proc/{sitting.pid}/task/{sitting.pid}/children"
    console = os.path.join(run_folder("cpu", MODEL, 42, runs), "log", "console.log")
    deadline = time.time() + 120
    while not (os.path.exists(console) and open(children).read().split()) and time.time() < deadline:
        time.sleep(0.2)
    training = int(open(children).read().split()[0])
    os.kill(sitting.pid, signal.SIGTERM)
    assert sitting.wait(timeout=60) != 0
    deadline = time.time() + 30
    while os.path.exists(f"/proc/{training}") and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{training}")


def flags_with_values(flags):
    """train.py flags as the README names them: ["--augment", "--fc_unit", "256"] -> ["--augment", "--fc_unit 256"]."""
    named = []
    for flag in flags:
        if flag.startswith("--") or not named:
            named.append(flag)
        else:
            named[-1] += f" {flag}"
    return named


def test_the_readme_shows_the_shipped_transcribers_measured_figures():
    """hw/README.md's curve and test figures are those measured of the transcriber in hw/pretrained/."""
    figures = json.load(open(os.path.join(OUT, "peers.json")))
    shipped = open(os.path.join(OUT, "transcriber.onnx"), "rb").read()
    assert figures["files"]["hw/pretrained/transcriber.onnx"] == hashlib.sha256(shipped).hexdigest(), \
        "hw/pretrained/peers.json measured another transcriber: run bench/peers.py --pretrained --json again"
    readme = open(os.path.join(ROOT, "hw", "README.md")).read()
    assert curve_table() in readme and figures_paragraph() in readme, "paste python -m grader pretrained table"
    config = json.load(open(os.path.join(OUT, "config.json")))
    thresholds = config["thresholds"]
    said_of_data = [f"`{span['path']}`" + (" with " if span.get("flags") else "")
                    + " and ".join(f"`{flag}`" for flag in flags_with_values(span.get("flags", [])))
                    + f" from step {span['steps'][0]:,}"
                    + (f", the learning rate back at {span['learning rate'][1]:g}" if "learning rate" in span else "")
                    for span in config["data"][1:]]
    if "blend" in config:                                          # python -m grader pretrained blend
        shipped = [f"{weight:g} of the mean of steps {mean[0]:,} to {step:,}" if mean
                   else f"{weight:g} of step {step:,}" for step, weight, mean in blend_shares(config["blend"])]
    else:
        shipped = [f"validation (step {config['step']:,})"]
    for said in [f"for {config['trained_steps']:,} steps so far",
                 f"({thresholds['onset_threshold']}, {thresholds['weak_onset_threshold']} and "
                 f"{thresholds['frame_threshold']})" if thresholds["weak_onset_threshold"] is not None else
                 f"({thresholds['onset_threshold']} and {thresholds['frame_threshold']})"] + shipped + said_of_data:
        assert said in " ".join(readme.split()), f"hw/README.md should say {said!r}, as config.json does"


def test_any_clone_can_continue_the_shipped_transcribers_run():
    """pretrained-run/ is committed: its newest checkpoint, with the optimizer state, is at or past the steps
    the shipped transcriber has trained, its model-best.pt at or past the shipped step (unless a blend was
    shipped), and the shipped weights' checkpoint is there."""
    config = json.load(open(os.path.join(OUT, "config.json")))
    log = os.path.join(run_folder(PROFILE, MODEL, SEED, RUNS), "log")
    newest = newest_checkpoint(log)
    assert newest, f"no checkpoint in {log}: commit pretrained-run/ after a sitting"
    checkpoint = torch.load(newest, map_location="cpu", weights_only=True)
    assert "optimizer_state_dict" in checkpoint and checkpoint["step"] == checkpoint_step(newest)
    assert checkpoint["step"] >= config["trained_steps"], "commit the run's newest checkpoint with its export"
    best = torch.load(os.path.join(log, "model-best.pt"), map_location="cpu", weights_only=True)
    assert best["model_type"] == config["model_type"]
    assert best["step"] >= config["step"] or "blend" in config          # a blend's later step may not be a best
    assert shipped_checkpoint(), "the run's checkpoint of the shipped step is gone: bench/peers.py's torch row needs it"
    sittings = [json.loads(line) for line in open(os.path.join(os.path.dirname(log), "sittings.jsonl"))]
    assert sittings[0]["from_step"] == 0 and sittings[-1]["from_step"] <= checkpoint["step"]
