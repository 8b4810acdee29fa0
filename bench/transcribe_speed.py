"""Transcription speed and memory on CPU: the ONF model at the full width (cnn_unit 48, fc_unit 256).

    python bench/transcribe_speed.py [--minutes 10]

Times transcribe.predict + extract_notes on 60 s of real audio (a test piece of data/default, looped),
then measures peak memory on a long recording (--minutes, looped the same way). Weights are random:
speed does not depend on them.
"""
import argparse
import glob
import os
import resource
import sys
import time

import numpy as np
import soundfile
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "solutions"), os.path.join(ROOT, "hw")]
from evaluate import extract_notes  # noqa: E402
from model import Transcriber_ONF  # noqa: E402
from transcribe import predict  # noqa: E402


def looped_audio(seconds):
    paths = sorted(glob.glob(os.path.join(ROOT, "data", "default", "test", "*.flac")))
    if not paths:
        sys.exit("no data/default/test/*.flac: build the default data first (make data)")
    audio, _ = soundfile.read(paths[0], dtype="float32")
    return np.resize(audio, int(seconds * 16000))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Transcriber_ONF(48, 256).eval()
    minute = looped_audio(60)
    predict(model, minute[:16000 * 5], "cpu")             # warm-up
    start = time.perf_counter()
    frames, onsets, _ = predict(model, minute, "cpu")
    extract_notes(onsets, frames)
    seconds = time.perf_counter() - start
    print(f"ONF cnn_unit 48: 60 s of audio transcribed in {seconds:.1f} s on {torch.get_num_threads()} threads "
          f"(target <= 10 s; {60 / seconds:.1f}x real time)")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    long = looped_audio(args.minutes * 60)
    start = time.perf_counter()
    predict(model, long, "cpu")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.minutes:.0f}-minute recording: {time.perf_counter() - start:.0f} s, peak memory {peak:.0f} MiB "
          f"({peak - before:+.0f} MiB over the 60 s run; the audio itself is {long.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
