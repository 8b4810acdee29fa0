"""grader/thresholds.py: thresholds chosen on validation pieces recover the notes of a model that is sure of few."""
import numpy as np

from grader.thresholds import choose_thresholds
from dataset import MAESTRO_small
from evaluate import extract_notes, note_scores, to_mir_eval
from export import PRETRAINED, OnnxModel
from transcribe import predict

SHIFT = 2.0        # onset logits lowered by this much: a note the model was 73 % sure of now reads 27 %


class LessSure:
    """The pretrained transcriber with its onset logits lowered, as a briefly trained model's often are."""

    def __init__(self, model):
        self.model = model

    def __call__(self, audio):
        frame, onset, *rest = self.model(audio)
        return (frame, onset - SHIFT, *rest)


def mean_note_f1(model, data_path, onset_threshold):
    f1 = []
    for item in MAESTRO_small(data_path, groups=["validation"], sequence_length=None):
        frame, onset, _ = predict(model, item["audio"].numpy(), "cpu")
        reference = to_mir_eval(*extract_notes(item["onset"].numpy(), item["frame"].numpy())[:2])
        estimate = to_mir_eval(*extract_notes(onset, frame, onset_threshold=onset_threshold)[:2])
        f1.append(note_scores(*reference, *estimate, offset_ratio=None)[2])
    return np.mean(f1)


def test_thresholds_chosen_on_validation_recover_an_unsure_models_notes(tiny_data):
    sure = OnnxModel(PRETRAINED, threads=2)
    unsure = LessSure(sure)
    chosen = choose_thresholds(unsure, tiny_data)
    assert chosen["onset_threshold"] <= 0.2
    assert chosen["frame_threshold"] in (0.3, 0.4, 0.5, 0.6)
    at_half = mean_note_f1(unsure, tiny_data, 0.5)
    recovered = mean_note_f1(unsure, tiny_data, chosen["onset_threshold"])
    assert recovered > at_half + 0.1
    assert recovered >= mean_note_f1(sure, tiny_data, 0.5) - 0.05
