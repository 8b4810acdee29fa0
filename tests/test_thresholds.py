"""Thresholds chosen on validation pieces (evaluate.sweep_thresholds, grader/thresholds.py) recover the notes
of a model that is sure of few; validation pieces played out of tune keep their labels in step, and so do
pieces in noise."""
import numpy as np

from grader.thresholds import choose_thresholds, transcribed_pieces
from evaluate import evaluate_piece, sweep_thresholds
from export import PRETRAINED, OnnxModel

SHIFT = 2.0        # onset logits lowered by this much: a note the model was 73 % sure of now reads 27 %


class LessSure:
    """The pretrained transcriber with its onset logits lowered, as a briefly trained model's often are."""

    def __init__(self, model):
        self.model = model

    def __call__(self, audio):
        frame, onset, *rest = self.model(audio)
        return (frame, onset - SHIFT, *rest)


def mean_note_f1(pieces, onset_threshold, frame_threshold=0.5):
    """As results.txt reports it: evaluate_piece's note F1, averaged over the pieces."""
    return np.mean([evaluate_piece(*piece, onset_threshold=onset_threshold,
                                   frame_threshold=frame_threshold)["metric/note/f1"] for piece in pieces])


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
    onset_f1, frame_f1, best = sweep_thresholds(pieces)
    assert best == chosen
    assert abs(onset_f1[0.5] - at_half) < 1e-9 and abs(onset_f1[chosen["onset_threshold"]] - recovered) < 1e-9
    assert max(onset_f1.values()) == onset_f1[chosen["onset_threshold"]]
    assert max(frame_f1.values()) == frame_f1[chosen["frame_threshold"]]


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
