"""Seconds per minute of audio of export.py's web page in headless Chromium, beside transcribe.py's ONNX
backend (onnxruntime) on the same model and the same audio, in one run.

    python bench/web_speed.py CHECKPOINT [--data_path data/default] [--minutes 5]

The audio is the first test pieces of the data set, joined up to --minutes. The page runs ONNX Runtime Web
on one thread (plain static hosting gives no cross-origin isolation, so no threads); transcribe.py gets 2.
Both times count the model and the reading of notes, not the decoding of the file.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "solutions"), os.path.join(ROOT, "hw")]
from constants import SAMPLE_RATE  # noqa: E402
from dataset import MAESTRO_small  # noqa: E402
from evaluate import extract_notes, load_model  # noqa: E402
from export import as_onnx  # noqa: E402
from transcribe import predict  # noqa: E402
from bench.browser import CHROMIUM, open_in_chromium  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--data_path", default=os.path.join(ROOT, "data", "default"))
    parser.add_argument("--minutes", type=float, default=5)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (make test installs it)")
    pieces = MAESTRO_small(args.data_path, groups=["test"], sequence_length=None, random_sample=False).pieces
    audio = np.concatenate([np.asarray(p["audio"], np.float32) / 32768 for p in pieces])
    audio = audio[: int(args.minutes * 60 * SAMPLE_RATE)]
    minutes = len(audio) / SAMPLE_RATE / 60
    with tempfile.TemporaryDirectory() as work:
        soundfile.write(os.path.join(work, "audio.flac"), audio, SAMPLE_RATE)
        subprocess.run([sys.executable, "export.py", os.path.abspath(args.checkpoint), "--web",
                        os.path.join(work, "page"), "--data_path", args.data_path, "--check_seconds", "5"],
                       cwd=os.path.join(ROOT, "hw"), check=True, capture_output=True)
        transcription, status, errors, _ = open_in_chromium(os.path.join(work, "page"), "",
                                                         os.path.join(work, "audio.flac"))
        if not transcription.get("done"):
            sys.exit(f"the page failed: {status} {errors}")
        model = as_onnx(load_model(args.checkpoint)[0], threads=2)
        started = time.perf_counter()
        frame, onset, velocity = predict(model, audio, "cpu")
        extract_notes(onset, frame, velocity)
        native = time.perf_counter() - started
    print(f"{minutes:.1f} min of audio, {args.checkpoint}")
    print(f"web page (Chromium, ONNX Runtime Web, 1 thread): {transcription['transcribeSeconds'] / minutes:.2f} s "
          f"per minute of audio ({len(transcription['notes'])} notes)")
    print(f"transcribe.py --backend onnx (onnxruntime, 2 threads): {native / minutes:.2f} s per minute of audio")
    print(f"ratio: the page takes {transcription['transcribeSeconds'] / native:.1f}x as long")


if __name__ == "__main__":
    main()
