"""What each part of a phone's recording chain costs a transcriber: the validation pieces through one part at a time.

    python bench/recording_chain.py [MODEL.onnx ...] [--data_path data/large] [--group validation]

The test split holds one room family never drawn for training, phone recordings (data/rooms.py), where the
pretrained transcriber scores below its mark elsewhere. This asks which part of that family's chain is to
blame, without touching the test pieces: each validation piece (already recorded in a training family's room)
goes through one part, at the middle of the phone family's range in data/rooms.py FAMILIES: its low cut, its
high shelf, its compressor (data/rooms.chain, the other two parts set to do nothing), pink background noise 30
and 20 dB under the piece (grader/thresholds.in_pink_noise, as the blend rule and bench/peers.py --noise add
it; the phone family draws 20 to 40 dB), or an MP3 round trip (data/rooms.lossy_round_trip). Every model (by
default the shipped transcriber) transcribes each version whole, as transcribe.py does, at its own
thresholds; printed: the mean note precision, recall and F1 over the pieces, and F1's change against the
pieces as they are.
"""
import argparse
import dataclasses
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "hw")]
from data.rooms import FAMILIES, HELD_OUT_FAMILY, Room, chain, lossy_round_trip  # noqa: E402
from dataset import MAESTRO_small  # noqa: E402
from evaluate import evaluate_piece  # noqa: E402
from export import OnnxModel  # noqa: E402
from grader.thresholds import in_pink_noise  # noqa: E402
from transcribe import PRETRAINED, predict  # noqa: E402

# A chain that changes nothing: a low cut below the piano, a flat shelf, a compressor that never acts.
NEUTRAL = Room(family=HELD_OUT_FAMILY, size=(0, 0, 0), rt60=0.0, source=(0, 0, 0), mics=(), low_cut_hz=10.0,
               shelf_hz=4000.0, shelf_db=0.0, threshold_db=0.0, ratio=1.0, peak_dbfs=0.0, snr_db=np.inf,
               lossy="mp3", quality=0.6)


def middle(pair):
    return (pair[0] + pair[1]) / 2


def chain_parts(family=HELD_OUT_FAMILY):
    """name -> a function of (audio, the piece's index): each part of the family's chain alone."""
    ranges = FAMILIES[family]
    low_cut = dataclasses.replace(NEUTRAL, low_cut_hz=middle(ranges["low_cut"]))
    shelf = dataclasses.replace(NEUTRAL, shelf_hz=middle(ranges["shelf"][0]), shelf_db=middle(ranges["shelf"][1]))
    compressor = dataclasses.replace(NEUTRAL, threshold_db=middle(ranges["compressor"][0]),
                                     ratio=middle(ranges["compressor"][1]))
    return {
        "as recorded": lambda audio, index: audio,
        f"low cut {low_cut.low_cut_hz:g} Hz": lambda audio, index: chain(audio, low_cut),
        f"high shelf {shelf.shelf_db:g} dB from {shelf.shelf_hz:g} Hz": lambda audio, index: chain(audio, shelf),
        f"compressor {compressor.threshold_db:g} dB, {compressor.ratio:g}:1":
            lambda audio, index: chain(audio, compressor),
        "pink noise 30 dB under": lambda audio, index: noisy(audio, 30, index),
        "pink noise 20 dB under": lambda audio, index: noisy(audio, 20, index),
        f"MP3 at quality {NEUTRAL.quality:g}": lambda audio, index: lossy_round_trip(np.clip(audio, -1, 1), NEUTRAL),
    }


def noisy(audio, snr_db, index):
    return in_pink_noise(torch.from_numpy(audio), snr_db, seed=index).double().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=[PRETRAINED], help="export.py models (.onnx)")
    parser.add_argument("--data_path", default=os.path.join(ROOT, "data", "default"))
    parser.add_argument("--group", default="validation")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pieces = list(MAESTRO_small(args.data_path, groups=[args.group], sequence_length=None))
    models = {os.path.relpath(os.path.abspath(path), ROOT): OnnxModel(path, threads=2) for path in args.models}
    print(f"{len(pieces)} {args.group} pieces of {args.data_path}; mean note precision / recall / F1 (F1's change)")
    width = max(36, *(len(name) + 2 for name in models))
    print(f"{'':42}" + "".join(f"{name:>{width}}" for name in models))
    as_recorded = {}
    for part, played in chain_parts().items():
        rows = {name: [] for name in models}
        for index, piece in enumerate(pieces):
            audio = played(piece["audio"].numpy().astype(np.float64), index).astype(np.float32)   # once for all
            for name, model in models.items():
                frame, onset, _ = predict(model, audio, "cpu")
                result = evaluate_piece(frame, onset, piece["frame"].numpy(), piece["onset"].numpy(),
                                        **model.thresholds)
                rows[name].append([result[f"metric/note/{key}"] for key in ("precision", "recall", "f1")])
        cells = []
        for name in models:
            precision, recall, f1 = np.mean(rows[name], axis=0)
            as_recorded.setdefault(name, f1)
            cells.append(f"{precision:.3f} / {recall:.3f} / {f1:.3f} ({f1 - as_recorded[name]:+.3f})")
        print(f"{part:42}" + "".join(f"{cell:>{width}}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
