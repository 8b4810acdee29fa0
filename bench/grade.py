"""Grader speed: hidden tests of one submission, and grade-all with --jobs 1 against --jobs 2.

    python bench/grade.py [--submissions 20] [--data_path data/tiny]

The class is copies of the solutions with a few stubs and mistakes among them (the hidden tests only;
no metric check, no checkpoint).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from submissions import write_class  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--data_path", default=os.path.join(ROOT, "data", "tiny"))
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.data_path, "data.json")):
        subprocess.run([sys.executable, "-m", "data", "synth", "--size", "tiny", "--out", args.data_path], cwd=ROOT,
                       check=True)
    work = tempfile.mkdtemp(prefix="bench-grade-")
    class_folder = os.path.join(work, "class")
    write_class(class_folder, args.submissions)

    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "grade", os.path.join(class_folder, "student000"), "--out",
                    os.path.join(work, "one.json"), "--data_path", args.data_path], cwd=ROOT, check=True,
                   capture_output=True)
    one = time.monotonic() - started
    print(f"hidden tests of one submission (rnn, crnn, onf), process start included: {one:.1f} s")

    walls = {}
    for jobs in (1, 2):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", "grade-all", class_folder, "--jobs", str(jobs), "--csv",
                        os.path.join(work, f"grades-{jobs}.csv"), "--results", os.path.join(work, f"graded-{jobs}"),
                        "--data_path", args.data_path], cwd=ROOT, check=True, capture_output=True)
        walls[jobs] = time.monotonic() - started
        print(f"grade-all, {args.submissions} submissions, --jobs {jobs}: {walls[jobs]:.1f} s "
              f"({walls[jobs] / args.submissions:.1f} s each)")
    print(f"speed-up of --jobs 2 over --jobs 1: {walls[1] / walls[2]:.2f}x on {os.cpu_count()} cores")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
