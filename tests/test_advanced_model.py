"""The full Onsets and Frames (the solutions' optional advanced model) through the handout's tools."""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile
import torch

from evaluate import losses
from handout_runs import write_handout_with_solutions


@pytest.fixture(scope="module")
def handout_with_solutions(tmp_path_factory):
    return write_handout_with_solutions(tmp_path_factory.mktemp("hw"))


def test_velocity_loss_counts_only_where_notes_start():
    labels = {name: torch.zeros(1, 4, 88) for name in ("frame", "onset", "offset", "velocity")}
    labels["onset"][0, 1, 40] = 1
    labels["velocity"][0, 1:3, 40] = 0.75
    prediction = torch.full((1, 4, 88), 0.25)
    prediction[0, 2, 40] = 0.0                   # wrong, but not at an onset: costs nothing
    zero = torch.zeros(1, 4, 88)
    terms = losses((zero, zero, zero, prediction), labels)
    assert set(terms) == {"frame_loss", "onset_loss", "offset_loss", "velocity_loss"}
    assert terms["velocity_loss"].item() == pytest.approx(0.25)
    assert set(losses((zero, zero), labels)) == {"frame_loss", "onset_loss"}


def test_full_onsets_and_frames_trains_and_is_scored_with_velocity(handout_with_solutions, tiny_data, tmp_path):
    logdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "train.py", "--model_type", "onf_full", "-i", "6", "-vi", "3",
                             "-b", "2", "-v", "20480", "-cnn", "4", "-fc", "16", "--data_path", tiny_data,
                             "--logdir", str(logdir)], cwd=handout_with_solutions, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in open(logdir / "metrics.jsonl")]
    assert [row["step"] for row in rows] == [3, 6]
    for key in ("metric/loss/offset_loss", "metric/loss/velocity_loss", "metric/note-with-velocity/f1",
                "metric/note-with-offsets-and-velocity/f1"):
        assert key in rows[-1] and np.isfinite(rows[-1][key])
    assert "note-with-velocity" in (logdir / "results.txt").read_text()
    evaluated = subprocess.run([sys.executable, "evaluate.py", str(logdir / "model-6.pt"), "--data_path", tiny_data,
                                "--group", "validation", "--out", str(tmp_path / "validation.txt")],
                               cwd=handout_with_solutions, capture_output=True, text=True)
    assert evaluated.returncode == 0 and "note-with-velocity" in (tmp_path / "validation.txt").read_text()


def test_transcriptions_carry_the_predicted_velocities(handout_with_solutions, tmp_path):
    sys.path.insert(0, str(handout_with_solutions))
    try:
        spec = importlib.util.spec_from_file_location("solution_model", handout_with_solutions / "model.py")
        solution_model = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(solution_model)
    finally:
        sys.path.remove(str(handout_with_solutions))
    torch.manual_seed(0)
    model = solution_model.OnsetsAndFrames(4, 16)
    with torch.no_grad():        # whatever it hears: one note on key 40 (MIDI 61) at velocity 0.5
        for layer in (model.onset_fc, model.combined_fc, model.velocity_fc):
            layer.weight.zero_()
            layer.bias.fill_(-20)
        model.onset_fc.bias[40] = model.combined_fc.bias[40] = 20
        model.velocity_fc.bias.fill_(0.5)
    torch.save({"model_state_dict": model.state_dict(), "model_type": "onf_full", "cnn_unit": 4, "fc_unit": 16},
               tmp_path / "model.pt")
    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.01
    soundfile.write(tmp_path / "take.wav", audio, 16000)
    result = subprocess.run([sys.executable, "transcribe.py", str(tmp_path / "model.pt"), str(tmp_path / "take.wav"),
                             "--out", str(tmp_path / "out")], cwd=handout_with_solutions, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "take.mid")).instruments[0].notes
    assert [(n.pitch, n.velocity) for n in notes] == [(61, 50)]          # 80 v + 10, as Magenta maps it
    velocity = np.load(tmp_path / "out" / "take.npz")["velocity"]
    assert velocity.shape == (16000 * 3 // 512, 88) and np.allclose(velocity, 0.5)


def test_flags_for_threads_checkpoints_augmentation_and_the_detach_ablation(handout_with_solutions, tiny_data,
                                                                             tmp_path):
    logdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "train.py", "--model_type", "onf", "--no_detach", "--augment",
                             "--detune", "--noise", "--threads", "2",
                             "--keep_last", "2", "-i", "4", "-vi", "1", "-b", "2", "-v", "20480", "-cnn", "4", "-fc",
                             "16", "--skip_test", "--data_path", tiny_data, "--logdir", str(logdir)],
                            cwd=handout_with_solutions, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in logdir.glob("*.pt")) == ["model-3.pt", "model-4.pt", "model-best.pt"]
    config = json.load(open(logdir / "config.json"))
    assert config["cpu_threads"] == 2 and config["args"]["no_detach"] is True and config["args"]["augment"] is True
    assert config["args"]["detune"] is True and config["args"]["noise"] is True
    assert ("threads 2, no detach, random equalisers, random tunings, background noise"
            in (logdir / "console.log").read_text())


def test_the_mixed_precision_step_runs_on_cpu(handout_with_solutions, tiny_data, tmp_path):
    # On CUDA --amp auto turns it on; here --amp on takes the same path with CPU autocast in bf16.
    logdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "train.py", "--model_type", "onf", "--amp", "on", "-i", "4", "-vi", "2",
                             "-b", "2", "-v", "20480", "-cnn", "4", "-fc", "16", "--skip_test", "--data_path", tiny_data,
                             "--logdir", str(logdir)], cwd=handout_with_solutions, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.load(open(logdir / "config.json"))["mixed_precision"] == "bfloat16"
    assert "mixed precision bfloat16" in (logdir / "console.log").read_text()
    rows = [json.loads(line) for line in open(logdir / "metrics.jsonl")]
    assert all(np.isfinite(row["metric/loss/frame_loss"]) and np.isfinite(row["metric/loss/onset_loss"]) for row in rows)
    assert torch.load(logdir / "model-4.pt", weights_only=True)["model_state_dict"]["onset_fc.weight"].dtype == torch.float32


def test_a_compiled_run_trains_the_same_model_and_saves_plain_weights(handout_with_solutions, tiny_data, tmp_path):
    # --compile (for GPUs) runs the training steps through torch.compile's C++ code on CPU: same crops, same
    # updates, so the validation losses match the plain run's to rounding, and checkpoints load into a plain model.
    def train(name, *flags):
        logdir = tmp_path / name
        result = subprocess.run([sys.executable, "train.py", "--model_type", "crnn", "-i", "3", "-vi", "3", "-b", "2",
                                 "-v", "20480", "-cnn", "4", "-fc", "16", "--threads", "1", "--skip_test",
                                 "--data_path", tiny_data, "--logdir", str(logdir), *flags],
                                cwd=handout_with_solutions, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return logdir, json.loads((logdir / "metrics.jsonl").read_text().splitlines()[-1])
    plain_dir, plain = train("plain")
    compiled_dir, compiled = train("compiled", "--compile")
    assert "compiled" in (compiled_dir / "console.log").read_text()
    for key in ("metric/loss/frame_loss", "metric/loss/onset_loss"):
        assert compiled[key] == pytest.approx(plain[key], rel=1e-3), key
    weights = torch.load(compiled_dir / "model-3.pt", weights_only=True)["model_state_dict"]
    assert weights.keys() == torch.load(plain_dir / "model-3.pt", weights_only=True)["model_state_dict"].keys()


def test_dataloader_workers_each_draw_their_own_crops(tiny_data):
    # On a GPU, train.py cuts crops in two worker processes. Both start from a copy of the dataset: without
    # seed_worker they would draw the same crop positions, item for item.
    from torch.utils.data import DataLoader
    from dataset import MAESTRO_small
    from train import seed_worker

    def crops(init):
        dataset = MAESTRO_small(tiny_data, groups=["train"], sequence_length=8192, seed=42)
        dataset.pieces = [dataset.pieces[0]] * 8          # one piece: only the crop position differs
        loader = DataLoader(dataset, 1, shuffle=False, num_workers=2, worker_init_fn=init,
                            generator=torch.Generator().manual_seed(42))
        return [batch["audio"][0].numpy().tobytes() for batch in loader]
    copied = crops(None)
    assert copied[0::2] == copied[1::2]                 # the trap: worker 1 repeats worker 0
    seeded, again = crops(seed_worker), crops(seed_worker)
    assert seeded == again and seeded[0::2] != seeded[1::2]
