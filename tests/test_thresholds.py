"""Thresholds chosen on validation pieces (evaluate.sweep_thresholds, grader/thresholds.py) recover the notes
of a model that is sure of few; validation pieces played out of tune keep their labels in step, and so do
pieces in noise."""
import json
import os

import numpy as np

from grader.thresholds import choose_thresholds, transcribed_pieces
from evaluate import evaluate_piece, extract_notes, sweep_thresholds
from export import PRETRAINED, OnnxModel
from test_tuning import transcribe

SHIFT = 2.0        # onset logits lowered by this much: a note the model was 73 % sure of now reads 27 %


class LessSure:
    """The pretrained transcriber with its onset logits lowered, as a briefly trained model's often are."""

    def __init__(self, model):
        self.model = model

    def __call__(self, audio):
        frame, onset, *rest = self.model(audio)
        return (frame, onset - SHIFT, *rest)


def mean_note_f1(pieces, onset_threshold, frame_threshold=0.5, weak_onset_threshold=None):
    """As results.txt reports it: evaluate_piece's note F1, averaged over the pieces."""
    return np.mean([evaluate_piece(*piece, onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                                   weak_onset_threshold=weak_onset_threshold)["metric/note/f1"] for piece in pieces])


def test_thresholds_chosen_on_validation_recover_an_unsure_models_notes(tiny_data):
    sure = OnnxModel(PRETRAINED, threads=2)
    unsure = LessSure(sure)
    chosen = choose_thresholds(unsure, tiny_data)
    assert chosen["onset_threshold"] <= 0.2
    assert chosen["frame_threshold"] in (0.3, 0.4, 0.5, 0.6)
    pieces = transcribed_pieces(unsure, tiny_data)
    at_half = mean_note_f1(pieces, 0.5)
    recovered = mean_note_f1(pieces, chosen["onset_threshold"])
    assert recovered > at_half + 0.1
    assert recovered >= mean_note_f1(transcribed_pieces(sure, tiny_data), 0.5) - 0.05
    # The sweep's curve is the homework's note F1 at each threshold, and its best is the one chosen.
    onset_f1, weak_f1, frame_f1, best = sweep_thresholds(pieces)
    assert best == chosen
    assert abs(onset_f1[0.5] - at_half) < 1e-9 and abs(onset_f1[chosen["onset_threshold"]] - recovered) < 1e-9
    assert max(onset_f1.values()) == onset_f1[chosen["onset_threshold"]]
    weak = chosen["weak_onset_threshold"]
    assert None in weak_f1 and all(threshold is None or threshold < chosen["onset_threshold"] for threshold in weak_f1)
    assert abs(weak_f1[None] - recovered) < 1e-9 and max(weak_f1.values()) == weak_f1[weak]
    assert max(frame_f1.values()) == frame_f1[chosen["frame_threshold"]]


def test_weak_onsets_where_frames_switch_on_recover_an_unsure_models_notes(tiny_data):
    """At the homework's thresholds the unsure model misses notes its frames show; letting a weaker onset
    start a note where the key's frame switches on finds many of them, and the notes it adds are right."""
    pieces = transcribed_pieces(LessSure(OnnxModel(PRETRAINED, threads=2)), tiny_data)

    def mean_scores(**thresholds):
        metrics = [evaluate_piece(*piece, onset_threshold=0.5, **thresholds) for piece in pieces]
        return {name: np.mean([m[f"metric/note/{name}"] for m in metrics]) for name in ("precision", "recall", "f1")}
    at_half, with_weak_onsets = mean_scores(), mean_scores(weak_onset_threshold=0.1)
    assert with_weak_onsets["recall"] > at_half["recall"] + 0.1, (at_half, with_weak_onsets)
    assert with_weak_onsets["precision"] > at_half["precision"] - 0.03, (at_half, with_weak_onsets)
    assert with_weak_onsets["f1"] > at_half["f1"] + 0.05


def test_transcribe_py_takes_the_models_weak_onsets_unless_told_otherwise(tiny_data, tmp_path):
    """transcribe.py --pretrained reads notes at the thresholds the ONNX file carries, weak onsets included;
    --weak_onset_threshold sets another or none, and one at or over the onset threshold is refused."""
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    recording, name = os.path.join(tiny_data, record["audio_filename"]), record["audio_filename"].split("/")[-1]
    carried = OnnxModel(PRETRAINED).thresholds
    assert carried["weak_onset_threshold"] is not None
    found = {}
    for label, flags, thresholds in [("own", [], carried),
                                     ("none", ["--onset_threshold", "0.5", "--weak_onset_threshold", "none"],
                                      {**carried, "onset_threshold": 0.5, "weak_onset_threshold": None}),
                                     ("0.1", ["--onset_threshold", "0.5", "--weak_onset_threshold", "0.1"],
                                      {**carried, "onset_threshold": 0.5, "weak_onset_threshold": 0.1})]:
        run = transcribe("--pretrained", recording, *flags, "--tuning", "0", "--out", str(tmp_path / label))
        assert run.returncode == 0, run.stderr[-2000:]
        said = int(run.stdout.split(" notes -> ")[0].rsplit(" ", 1)[1])
        stored = np.load(tmp_path / label / (os.path.splitext(name)[0] + ".npz"))
        assert said == len(extract_notes(stored["onset"], stored["frame"], None, **thresholds)[0])
        found[label] = said
    assert found["0.1"] > found["none"], found
    refused = transcribe("--pretrained", recording, "--weak_onset_threshold", str(carried["onset_threshold"]))
    assert refused.returncode == 2 and "would add no notes" in refused.stderr


def test_pieces_played_out_of_tune_keep_their_labels_in_step(tiny_data):
    """Played 25 cents sharp the pieces also play 1.45 % faster: retimed, the labels still fit what the
    shipped transcriber hears; left as they were, they drift off its notes within a few seconds."""
    model = OnnxModel(PRETRAINED, threads=2)
    in_tune = transcribed_pieces(model, tiny_data)
    sharp = transcribed_pieces(model, tiny_data, cents=25)
    assert len(sharp) == len(in_tune)
    for (frame, _, frame_label, onset_label), (_, _, frame_before, onset_before) in zip(sharp, in_tune):
        assert frame_label.shape == frame.shape
        assert abs(len(frame) * 2 ** (25 / 1200) - len(frame_before)) <= 2
        assert onset_label.sum() == onset_before.sum()                     # no onset lost in the move
    retimed = mean_note_f1(sharp, 0.5)
    assert retimed > 0.55 and retimed > mean_note_f1(in_tune, 0.5) - 0.25      # about .73 against .79 in tune
    not_moved = [(frame, onset, frame_before[:len(frame)], onset_before[:len(frame)])
                 for (frame, onset, _, _), (_, _, frame_before, onset_before) in zip(sharp, in_tune)]
    assert mean_note_f1(not_moved, 0.5) < retimed - 0.25                          # about .24


def test_pieces_in_noise_keep_their_labels_and_cost_notes(tiny_data):
    """With pink noise 20 dB under them the pieces keep their labels; the shipped transcriber hears the same
    noise each time, and finds fewer notes in it than in quiet (at 0 dB, far fewer)."""
    model = OnnxModel(PRETRAINED, threads=2)
    quiet = transcribed_pieces(model, tiny_data)
    noisy = transcribed_pieces(model, tiny_data, snr_db=20)
    for (frame, _, frame_label, onset_label), (frame_before, _, frame_label_before, onset_label_before) in zip(
            noisy, quiet):
        assert np.array_equal(frame_label, frame_label_before) and np.array_equal(onset_label, onset_label_before)
        assert frame.shape == frame_before.shape and not np.allclose(frame, frame_before, atol=1e-3)
    again = transcribed_pieces(model, tiny_data, snr_db=20)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, noisy))
    in_quiet, at_20, at_0 = (mean_note_f1(pieces, 0.3) for pieces in (quiet, noisy,
                                                                      transcribed_pieces(model, tiny_data, snr_db=0)))
    assert at_0 < at_20 - 0.1 and at_20 < in_quiet + 0.02, (in_quiet, at_20, at_0)
