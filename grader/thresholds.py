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
    """The onset threshold with the best mean note F1 on the group's pieces, then the weak onset threshold
    (or none) that adds most to it, then the frame threshold with the best mean note-with-offsets F1 there.
    `model`: anything transcribe.predict runs (a torch model or export.OnnxModel); the pieces are transcribed
    whole, in transcribe.py's chunks."""
    from evaluate import sweep_thresholds
    return sweep_thresholds(transcribed_pieces(model, data_path, group))[-1]


def in_pink_noise(audio, snr_db, seed):
    """`audio` (a 1-D tensor) with pink noise (power as 1 / frequency, as a room's hum and hiss) `snr_db` dB
    under its level, drawn from `seed`: the same noise for every model that hears it."""
    import torch
    from augment import add_noise
    return add_noise(audio[None].float(), torch.tensor([float(snr_db)]), torch.tensor([1.0]),
                     torch.Generator().manual_seed(seed))[0]


def transcribed_pieces(model, data_path, group="validation", cents=0, snr_db=None):
    """(frame probabilities, onset probabilities, frame labels, onset labels) of each of the group's pieces,
    transcribed whole as transcribe.py does. With `cents`, each piece is first played that many cents sharp as
    bench/peers.py plays it (resampled, so also 2 ** (cents / 1200) times faster) and its labels are retimed
    to match; transcribe.py's own retuning is not applied, so this asks what the model copes with by itself.
    With `snr_db`, pink noise lies that many dB under each piece (in_pink_noise, its index the seed)."""
    from dataset import MAESTRO_small
    from transcribe import predict
    from tuning import resample, retime_roll
    ratio = 2 ** (cents / 1200)
    pieces = []
    for index, item in enumerate(MAESTRO_small(data_path, groups=[group], sequence_length=None)):
        audio, frame_label, onset_label = item["audio"], item["frame"], item["onset"]
        if cents:
            audio = resample(audio, ratio)
        if snr_db is not None:
            audio = in_pink_noise(audio, snr_db, seed=index)
        frame, onset, _ = predict(model, audio.numpy().astype(np.float32), "cpu")
        if cents:
            frame_label = retime_roll(frame_label, ratio, one_frame=False, frames=len(frame))
            onset_label = retime_roll(onset_label, ratio, one_frame=True, frames=len(frame))
        pieces.append((frame, onset, frame_label.numpy(), onset_label.numpy()))
    return pieces
