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
from grader.pretrained import MODEL, PROFILE, RUNS, SEED, export_pretrained, train_pretrained, widen_pretrained
from grader.reference import newest_checkpoint, run_folder
from grader.widen import widened_state

SHIPPED = os.path.join(run_folder(PROFILE, MODEL, SEED, RUNS), "log", "model-blend.pt")


def test_the_widened_transcriber_hears_what_it_heard(tiny_data):
    checkpoint = torch.load(SHIPPED, map_location="cpu", weights_only=True)   # the weights shipped, trained long
    models = load_solutions().MODELS
    narrow = models[MODEL](checkpoint["cnn_unit"], checkpoint["fc_unit"])
    narrow.load_state_dict(checkpoint["model_state_dict"])
    wide = models[MODEL](checkpoint["cnn_unit"], 2 * checkpoint["fc_unit"])
    wide.load_state_dict(widened_state(checkpoint["model_state_dict"], 2 * checkpoint["fc_unit"]))   # fits exactly
    audio, _ = soundfile.read(sorted(glob.glob(os.path.join(tiny_data, "**", "*.flac"), recursive=True))[0],
                              dtype="float32", frames=16000 * 8)
    with torch.no_grad():
        before = [torch.sigmoid(out) for out in narrow.eval()(torch.from_numpy(audio)[None])[:3]]
        after = [torch.sigmoid(out) for out in wide.eval()(torch.from_numpy(audio)[None])[:3]]
    assert max(float((b - a).abs().max()) for b, a in zip(before, after)) < 1e-4
    notes = [extract_notes(onset[0], frame[0], None, 0.25, 0.4) for frame, onset, _ in (before, after)]
    assert len(notes[0][0]) > 5 and all(np.array_equal(x, y) for x, y in zip(notes[0][:2], notes[1][:2]))
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
    copies = trained["model_state_dict"]["onset_conv_stack.fc.0.weight"]
    assert not torch.equal(copies[:128], copies[128:])              # dropout drops the copies apart: they part ways
    sittings = [json.loads(line) for line in open(os.path.join(os.path.dirname(logdir), "sittings.jsonl"))]
    assert [s["flags"] for s in sittings] == [[], ["--fc_unit", "256"]]
    assert "resumed from" in open(os.path.join(logdir, "console.log")).read()
    out = str(tmp_path / "pretrained")
    export_pretrained(tiny_data, runs, out)
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["fc_unit"] == 256 and config["data"][-1]["flags"] == ["--fc_unit", "256"]
    assert "--fc_unit" not in config["continue_with"]          # `train` reads the width from the checkpoint
