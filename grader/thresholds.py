"""Decision thresholds for a trained transcriber, chosen on the validation pieces (never on the test pieces).

The homework scores every model at 0.5, as the 2020 homework did. A model trained briefly is often
sure of few notes: at step 5000 the cpu-profile baseline's notes are 99 % right but it finds a third of
them, so 0.5 says more about its calibration than about what it heard. A transcriber meant for use
(the pretrained one, or a checkpoint beside basic-pitch, whose own thresholds were tuned) gets the
thresholds that serve it best on pieces it was not trained on: the handout's `evaluate.py --sweep`
rule (sweep_thresholds), applied to whole pieces transcribed as transcribe.py does, by any model it runs.
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDOUT = os.path.join(ROOT, "hw")
if HANDOUT not in sys.path:       # the handout's own modules (dataset, evaluate, transcribe, export) are trusted
    sys.path.insert(0, HANDOUT)


def choose_thresholds(model, data_path, group="validation"):
    """The onset threshold with the best mean note F1 on the group's pieces, then the frame threshold with
    the best mean note-with-offsets F1 there. `model`: anything transcribe.predict runs (a torch model or
    export.OnnxModel); the pieces are transcribed whole, in transcribe.py's chunks."""
    return threshold_sweep(model, data_path, group)[2]


def threshold_sweep(model, data_path, group="validation"):
    """evaluate.sweep_thresholds on the group's whole pieces: ({onset threshold: note F1}, {frame threshold:
    note-with-offsets F1 at the best onset threshold}, the best pair)."""
    from dataset import MAESTRO_small
    from evaluate import sweep_thresholds
    from transcribe import predict
    pieces = []
    for item in MAESTRO_small(data_path, groups=[group], sequence_length=None):
        frame, onset, _ = predict(model, item["audio"].numpy().astype(np.float32), "cpu")
        pieces.append((frame, onset, item["frame"].numpy(), item["onset"].numpy()))
    return sweep_thresholds(pieces)
