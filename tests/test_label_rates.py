"""Output biases start at the label rates (train.start_at_label_rates), measured on real FLAC and MIDI."""
import types

import numpy as np
import pytest
import torch

from dataset import MAESTRO_small
from evaluate import losses
from submissions import solution_text
from train import start_at_label_rates


@pytest.fixture(scope="module")
def solutions():
    module = types.ModuleType("solution_model")
    exec(compile(solution_text(), "solutions/model.py", "exec"), module.__dict__)
    return module


def test_label_rates_are_the_shares_of_the_whole_pieces_rolls(tiny_data):
    pieces = MAESTRO_small(tiny_data, groups=["train"], sequence_length=None)
    rates = pieces.label_rates()
    items = [pieces[i] for i in range(len(pieces))]
    for label in ("frame", "onset", "offset"):
        on = sum(item[label].sum().item() for item in items)
        cells = sum(item[label].numel() for item in items)
        assert rates[label] == pytest.approx(on / cells)
    assert 0 < rates["onset"] < rates["frame"] < 0.5


@pytest.mark.parametrize("model_type", ["baseline", "rnn", "crnn", "onf", "onf_full"])
def test_every_model_starts_at_the_label_rates(solutions, tiny_data, model_type):
    train_set = MAESTRO_small(tiny_data, groups=["train"], sequence_length=20480, seed=0)
    rates = train_set.label_rates()
    batch = {key: torch.stack([train_set[i][key] for i in range(2)]) for key in ("audio", "frame", "onset", "offset",
                                                                                "velocity")}
    torch.manual_seed(0)
    model = solutions.MODELS[model_type](4, 16).eval()
    with torch.no_grad():
        before = losses(model(batch["audio"]), batch)
    notes = []
    start_at_label_rates(model, rates, notes.append)
    with torch.no_grad():
        outputs = model(batch["audio"])
        after = losses(outputs, batch)
    assert notes == []
    # At a zero bias every output says 50 %; at the rate the loss starts near the label's own entropy.
    for label, output in (("frame", outputs[0]), ("onset", outputs[1])):
        mean_probability = torch.sigmoid(output).mean().item()
        assert rates[label] / 3 < mean_probability < rates[label] * 3, (label, mean_probability, rates[label])
        assert after[f"{label}_loss"] < 0.6 * before[f"{label}_loss"]


def test_a_model_without_the_spec_names_is_told_so():
    class Renamed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.onset_fc = torch.nn.Linear(8, 88)
            self.frames_out = torch.nn.Linear(8, 88)

    model, notes = Renamed(), []
    start_at_label_rates(model, {"frame": 0.05, "onset": 0.002, "offset": 0.002}, notes.append)
    assert np.allclose(model.onset_fc.bias.detach().numpy(), np.log(0.002 / 0.998))
    assert len(notes) == 1 and "combined_fc or frame_fc" in notes[0] and "frame output" in notes[0]
