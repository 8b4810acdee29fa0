"""Decision thresholds for a trained transcriber, chosen on the validation pieces (never on the test pieces).

The homework scores every model at 0.5, as the 2020 homework did. A model trained briefly is often
sure of few notes: at step 5000 the cpu-profile baseline's notes are 99 % right but it finds a third of
them, so 0.5 says more about its calibration than about what it heard. A transcriber meant for use
(the pretrained one, or a checkpoint beside basic-pitch, whose own thresholds were tuned) gets the
thresholds that serve it best on pieces it was not trained on.
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDOUT = os.path.join(ROOT, "hw")
if HANDOUT not in sys.path:       # the handout's own modules (dataset, evaluate, transcribe, export) are trusted
    sys.path.insert(0, HANDOUT)
# Down to 0.01: the 5000-step baseline does best near 0.05-0.07.
ONSET_THRESHOLDS = [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
FRAME_THRESHOLDS = [0.3, 0.4, 0.5, 0.6]


def choose_thresholds(model, data_path, group="validation"):
    """The onset threshold with the best mean note F1 on the group's pieces, then the frame threshold with
    the best mean note-with-offsets F1 there. `model`: anything transcribe.predict runs (a torch model or
    export.OnnxModel); the pieces are transcribed whole, in transcribe.py's chunks."""
    from dataset import MAESTRO_small
    from evaluate import extract_notes, note_scores, to_mir_eval
    from transcribe import predict
    pieces = []
    for item in MAESTRO_small(data_path, groups=[group], sequence_length=None):
        audio = item["audio"].numpy().astype(np.float32)
        frame, onset, _ = predict(model, audio, "cpu")
        reference = to_mir_eval(*extract_notes(item["onset"].numpy(), item["frame"].numpy())[:2])
        pieces.append((frame, onset, reference))

    def mean_f1(offset_ratio, onset_threshold, frame_threshold):
        return np.mean([note_scores(*reference, *to_mir_eval(*extract_notes(onset, frame, None, onset_threshold,
                                                                            frame_threshold)[:2]),
                                    offset_ratio=offset_ratio)[2] for frame, onset, reference in pieces])
    onset = max(ONSET_THRESHOLDS, key=lambda threshold: mean_f1(None, threshold, 0.5))
    frame = max(FRAME_THRESHOLDS, key=lambda threshold: mean_f1(0.2, onset, threshold))
    return {"onset_threshold": onset, "frame_threshold": frame}
