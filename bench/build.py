"""Build time of the offline data set.

    python bench/build.py                 # tiny only (seconds)
    python bench/build.py --default       # also default (minutes)

Builds into a temporary folder and prints wall time, pieces, hours of audio and the real-time factor.
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
    args = parser.parse_args()
    for size in ["tiny"] + (["default"] if args.default else []):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            with open(build(size, out, seed=0)) as f:
                records = json.load(f)
            seconds = time.perf_counter() - start
        audio = sum(r["duration"] for r in records)
        print(f"{size:>8}: {seconds:6.1f} s for {len(records)} pieces, {audio / 3600:.2f} h of audio "
              f"({audio / seconds:.0f}x real time, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
