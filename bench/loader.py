"""Loader speed and memory on a built data set (default: data/default, train split).

    python bench/loader.py [--data data/default]

Prints: the cold path (decode every FLAC and parse every MIDI, what the 2020 loader did at every start)
as the baseline, the warm start from the cache and its ratio to the baseline, peak memory against the
int16 audio bytes, and random 6.4 s crops per second on one core. Each part runs in a fresh process.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "hw"))
import numpy as np, torch
torch.set_num_threads(1)
from dataset import MAESTRO_small, read_audio, read_notes, note_frames
from constants import HOP_SIZE
data, part = sys.argv[2], sys.argv[3]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
out = {}
if part == "cold":
    start = time.perf_counter()
    dataset = MAESTRO_small.__new__(MAESTRO_small); dataset.path = data
    for audio_path, midi_path in dataset.files("train"):
        audio = read_audio(audio_path)
        note_frames(read_notes(midi_path), len(audio) // HOP_SIZE)
    out["seconds"] = time.perf_counter() - start
else:
    start = time.perf_counter()
    dataset = MAESTRO_small(data, groups=["train"], sequence_length=102400, seed=0)
    out["seconds"] = time.perf_counter() - start
    out["audio_bytes"] = sum(p["audio"].nbytes for p in dataset.pieces)
    out["peak_after_start"] = rss() - before
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        dataset[i % len(dataset)]
    out["crops_per_second"] = n / (time.perf_counter() - start)
    out["peak_after_crops"] = rss() - before
print(json.dumps(out))
"""


def probe(data, part):
    result = subprocess.run([sys.executable, "-c", PROBE, ROOT, data, part], capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "default"))
    args = parser.parse_args()
    probe(args.data, "warm")                 # makes sure the cache exists
    cold = probe(args.data, "cold")
    warm = probe(args.data, "warm")
    mib = 2 ** 20
    print(f"data: {args.data} (train split)")
    print(f"baseline, decode FLAC + parse MIDI: {cold['seconds']:.2f} s")
    print(f"warm start from the cache:          {warm['seconds']:.2f} s  "
          f"({cold['seconds'] / warm['seconds']:.0f}x faster than the baseline; target <= 3 s)")
    print(f"int16 audio bytes:                  {warm['audio_bytes'] / mib:.0f} MiB")
    print(f"peak memory, after start:           {warm['peak_after_start'] / mib:.0f} MiB "
          f"({warm['peak_after_start'] / warm['audio_bytes']:.2f} x audio bytes; target <= 1.2)")
    print(f"peak memory, after 2000 crops:      {warm['peak_after_crops'] / mib:.0f} MiB "
          f"({warm['peak_after_crops'] / warm['audio_bytes']:.2f} x audio bytes)")
    print(f"random 6.4 s crops, one core:       {warm['crops_per_second']:.0f} items/s (target >= 200)")


if __name__ == "__main__":
    main()
