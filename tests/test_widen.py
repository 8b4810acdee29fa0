"""grader/widen.py: the trained transcriber made wider hears what it heard before, and its run trains on wider."""
import glob
import json
import os

import numpy as np
import pytest
import soundfile
import torch

from evaluate import extract_notes
from grader.hidden_tests import load_solutions
from grader.pretrained import (MODEL, PROFILE, RUNS, SEED, export_pretrained, part_pretrained, train_pretrained,
                               widen_pretrained)
from grader.reference import newest_checkpoint, run_folder
from grader.widen import PARTING_NOISE, widened_state

# The blend shipped before the run was widened at step 336,000: fc_unit 128, trained long.
NARROW_BLEND = os.path.join(run_folder(PROFILE, MODEL, SEED, RUNS), "log", "model-blend.pt")


def probabilities(checkpoint, audio):
    """The frame, onset and offset probabilities of a checkpoint's model (in eval mode) for a clip."""
    model = load_solutions().MODELS[MODEL](checkpoint["cnn_unit"], checkpoint["fc_unit"])
    model.load_state_dict(checkpoint["model_state_dict"])
    with torch.no_grad():
        return [torch.sigmoid(out) for out in model.eval()(torch.from_numpy(audio)[None])[:3]]


def first_clip(tiny_data, seconds=8):
    path = sorted(glob.glob(os.path.join(tiny_data, "**", "*.flac"), recursive=True))[0]
    return soundfile.read(path, dtype="float32", frames=16000 * seconds)[0]


def copies_apart(state):
    """How far apart the two copies of the onset stack's units lie: |first - second| / |first|."""
    first, second = state["onset_conv_stack.fc.0.weight"].chunk(2)
    return float((first - second).norm() / first.norm())


def test_the_widened_transcriber_hears_what_it_heard(tiny_data):
    checkpoint = torch.load(NARROW_BLEND, map_location="cpu", weights_only=True)
    wide = {**checkpoint, "fc_unit": 2 * checkpoint["fc_unit"],
            "model_state_dict": widened_state(checkpoint["model_state_dict"], 2 * checkpoint["fc_unit"])}
    audio = first_clip(tiny_data)
    before, after = probabilities(checkpoint, audio), probabilities(wide, audio)      # the wide state fits exactly
    assert max(float((b - a).abs().max()) for b, a in zip(before, after)) < 1e-4
    notes = [extract_notes(onset[0], frame[0], None, 0.25, 0.4) for frame, onset, _ in (before, after)]
    assert len(notes[0][0]) > 5 and all(np.array_equal(x, y) for x, y in zip(notes[0][:2], notes[1][:2]))
    # The copies start apart (each gets a gradient of its own), by about twice the noise: +n and -n.
    assert 1.5 * PARTING_NOISE < copies_apart(wide["model_state_dict"]) < 2.5 * PARTING_NOISE
    with pytest.raises(ValueError, match="fc_unit must be 256, not 192"):
        widened_state(checkpoint["model_state_dict"], 192)
    del checkpoint["model_state_dict"]["onset_lstm.weight_ih_l0"]      # a model named otherwise: refused
    with pytest.raises(ValueError, match="onset_conv_stack's output"):
        widened_state(checkpoint["model_state_dict"], 256)


def test_a_widened_run_trains_on_at_its_new_width(tiny_data, tmp_path):
    runs = str(tmp_path / "runs")
    logdir = train_pretrained(2, 1, tiny_data, runs)
    with pytest.raises(SystemExit, match="model-none.pt to widen"):
        widen_pretrained(256, runs, checkpoint="model-none.pt")
    path = widen_pretrained(256, runs)                             # model-best.pt's weights, at the newest step
    widened = torch.load(path, weights_only=True)
    assert path == os.path.join(logdir, "model-2.pt") and widened["fc_unit"] == 256 and widened["step"] == 2
    assert widened["widened"] == {"from_fc_unit": 128, "at_step": 2, "from": "model-best.pt"}
    assert widened["optimizer_state_dict"]["state"] == {}        # a fresh Adam: the narrow moments do not fit
    narrow = torch.load(os.path.join(logdir, "model-2-fc128.pt"), weights_only=True)   # kept, not resumed from
    assert narrow["fc_unit"] == 128 and "optimizer_state_dict" in narrow
    train_pretrained(4, 1, tiny_data, runs)
    trained = torch.load(newest_checkpoint(logdir), weights_only=True)
    assert trained["step"] == 4 and trained["fc_unit"] == 256
    sittings = [json.loads(line) for line in open(os.path.join(os.path.dirname(logdir), "sittings.jsonl"))]
    assert [s["flags"] for s in sittings] == [[], ["--fc_unit", "256"]]
    assert sittings[1]["widened"] == widened["widened"]              # the sitting says where its weights came from
    assert "resumed from" in open(os.path.join(logdir, "console.log")).read()
    out = str(tmp_path / "pretrained")
    export_pretrained(tiny_data, runs, out)
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["fc_unit"] == 256 and config["data"][-1]["flags"] == ["--fc_unit", "256"]
    assert "--fc_unit" not in config["continue_with"]          # `train` reads the width from the checkpoint


def test_a_run_widened_with_copies_that_never_parted_can_part_them(tiny_data, tmp_path):
    """Runs widened before widen parted the copies: `part` pushes them apart in place, the model hearing the same."""
    runs = str(tmp_path / "runs")
    logdir = train_pretrained(2, 1, tiny_data, runs)
    with pytest.raises(SystemExit, match="not of a widened run"):
        part_pretrained(runs)
    narrow = torch.load(os.path.join(logdir, "model-best.pt"), weights_only=True)["model_state_dict"]
    path = widen_pretrained(256, runs)
    unparted = torch.load(path, weights_only=True)                   # as the shipped run was widened: exact copies
    unparted["model_state_dict"] = widened_state(narrow, 256, noise=0)
    torch.save(unparted, path)
    assert copies_apart(unparted["model_state_dict"]) == 0
    train_pretrained(4, 1, tiny_data, runs)
    assert part_pretrained(runs) == os.path.join(logdir, "model-4.pt")
    before = torch.load(os.path.join(logdir, "model-4-unparted.pt"), weights_only=True)
    parted = torch.load(os.path.join(logdir, "model-4.pt"), weights_only=True)
    assert parted["parted"] == {"noise": PARTING_NOISE, "at_step": 4}
    assert parted["optimizer_state_dict"]["state"].keys() == before["optimizer_state_dict"]["state"].keys()
    assert copies_apart(parted["model_state_dict"]) > copies_apart(before["model_state_dict"]) + PARTING_NOISE
    audio = first_clip(tiny_data)
    moved = [(b - a).abs().max() for b, a in zip(probabilities(before, audio), probabilities(parted, audio))]
    assert max(float(m) for m in moved) < 0.01
    train_pretrained(6, 1, tiny_data, runs)
    sittings = [json.loads(line) for line in open(os.path.join(os.path.dirname(logdir), "sittings.jsonl"))]
    assert sittings[-1]["from_step"] == 4 and sittings[-1]["parted"] == parted["parted"]
    out = str(tmp_path / "pretrained")
    export_pretrained(tiny_data, runs, out)
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["data"][-1]["steps"] == [4, 6] and config["data"][-1]["parted"] == parted["parted"]
