"""How wide the pretrained transcriber's convolutions can be and still meet issue 15's speed target.

    python bench/pretrained_width.py [--widths 16 24 32] [--seconds 120] [--threads 2]

A wider convolution stack might hear more, but the target is at least 50 seconds of audio transcribed per
second on 2 CPU cores through onnxruntime, as `transcribe.py --pretrained` runs it. The shipped transcriber
(hw/pretrained/transcriber.onnx) is timed first, as the baseline every width is printed beside; then, for each
cnn_unit, its model type and fc_unit (read from the file's metadata) with random weights (speed does not depend
on them), exported as export.py exports them. Each is timed on transcribe.predict plus extract_notes over real
audio (a test piece of data/default, looped), all in the same run.
"""
import argparse
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "solutions"), os.path.join(ROOT, "hw")]
from evaluate import extract_notes  # noqa: E402
from constants import SAMPLE_RATE  # noqa: E402
from export import PRETRAINED, OnnxModel, as_onnx  # noqa: E402
from model import MODELS  # noqa: E402
from transcribe import predict  # noqa: E402
from transcribe_speed import looped_audio  # noqa: E402  (bench/, beside this file)

TARGET = 50.0        # seconds of audio per second (issue 15)


def audio_per_second(model, audio, repeats=2):
    """Seconds of audio transcribed per second of wall time, the best of `repeats` runs after a warm-up."""
    predict(model, audio[:SAMPLE_RATE * 5], "cpu")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        frames, onsets, _ = predict(model, audio, "cpu")
        extract_notes(onsets, frames)
        best = min(best, time.perf_counter() - start)
    return len(audio) / SAMPLE_RATE / best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 24, 32], help="cnn_unit values to time")
    parser.add_argument("--seconds", type=float, default=120, help="seconds of audio per timing")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime's threads")
    args = parser.parse_args()
    audio = looped_audio(args.seconds)
    shipped_model = OnnxModel(PRETRAINED, threads=args.threads)
    shipped_as = shipped_model.session.get_modelmeta().custom_metadata_map
    model_type, fc_unit = shipped_as["model_type"], int(shipped_as["fc_unit"])
    shipped = audio_per_second(shipped_model, audio)
    print(f"shipped transcriber ({model_type}, cnn_unit {shipped_as['cnn_unit']}, fc_unit {fc_unit}): "
          f"{shipped:6.1f} s of audio per second on {args.threads} threads", flush=True)
    for width in args.widths:
        torch.manual_seed(0)
        model = as_onnx(MODELS[model_type](width, fc_unit).eval(), threads=args.threads)
        speed = audio_per_second(model, audio)
        verdict = "meets" if speed >= TARGET else "misses"
        print(f"{model_type} cnn_unit {width:3d}, fc_unit {fc_unit}: {speed:6.1f} s of audio per second "
              f"({speed / shipped:.2f}x the shipped one; {verdict} the {TARGET:g} needed)", flush=True)


if __name__ == "__main__":
    main()
