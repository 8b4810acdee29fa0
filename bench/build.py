"""Build time of the offline data set.

    python bench/build.py                 # tiny only (seconds)
    python bench/build.py --default       # also default (minutes)
    python bench/build.py --default --compare data/default   # and check it is the same bytes as that build

Builds into a temporary folder and prints wall time, pieces, hours of audio and the real-time factor;
with --compare, how many of its files are byte for byte those of an earlier build of the same size and seed
(made with another number of processes, say).
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.synth import build  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--default", action="store_true", help="also build the default size")
    parser.add_argument("--compare", metavar="DIR", help="an earlier build of the largest size built, to compare")
    args = parser.parse_args()
    for size in ["tiny"] + (["default"] if args.default else []):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            with open(build(size, out, seed=0)) as f:
                records = json.load(f)
            seconds = time.perf_counter() - start
            if args.compare and size == ("default" if args.default else "tiny"):
                same, total = same_files(out, args.compare)
                print(f"{size:>8}: {same} of {total} files are the same bytes as in {args.compare}")
        audio = sum(r["duration"] for r in records)
        print(f"{size:>8}: {seconds:6.1f} s for {len(records)} pieces, {audio / 3600:.2f} h of audio "
              f"({audio / seconds:.0f}x real time, {os.cpu_count()} cores)")


def same_files(built, earlier):
    """(files byte for byte the same in `earlier`, files in all) of the build in `built`: its audio, its MIDI
    and data.json."""
    with open(os.path.join(built, "data.json")) as f:
        records = json.load(f)
    names = [r[key] for r in records for key in ("audio_filename", "midi_filename")] + ["data.json"]
    return sum(same_bytes(os.path.join(built, name), os.path.join(earlier, name)) for name in names), len(names)


def same_bytes(a, b):
    if not os.path.exists(b):
        return False
    with open(a, "rb") as first, open(b, "rb") as second:
        return first.read() == second.read()


if __name__ == "__main__":
    main()
