"""The Dask engine's overhead: grade-all on `--cluster local:2` against a plain pool of two processes.

    python bench/cluster.py [--submissions 20] [--data_path data/tiny]

Both grade the same class (copies of the solutions with stubs and mistakes among them, hidden tests of
rnn, crnn and onf) by running the same `python -m grader grade` per submission; the plain pool is two
threads each waiting on one such process, as grade-all worked before it ran on Dask.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)
from grader.batch import grade_all, submissions_in  # noqa: E402
from submissions import write_class  # noqa: E402


def plain_pool(sources, out, data_path, jobs=2):
    def one(source):
        name = os.path.basename(source)
        subprocess.run([sys.executable, "-m", "grader", "grade", source, "--out", os.path.join(out, name + ".json"),
                        "--data_path", data_path], cwd=ROOT, capture_output=True, check=True)
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, sources))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--data_path", default=os.path.join(ROOT, "data", "tiny"))
    args = parser.parse_args()
    data_path = os.path.abspath(args.data_path)
    if not os.path.exists(os.path.join(data_path, "data.json")):
        subprocess.run([sys.executable, "-m", "data", "synth", "--size", "tiny", "--out", data_path], cwd=ROOT,
                       check=True)
    work = tempfile.mkdtemp(prefix="bench-cluster-")
    class_folder = os.path.join(work, "class")
    write_class(class_folder, args.submissions)
    sources = submissions_in(class_folder)

    started = time.monotonic()
    plain_pool(sources, os.path.join(work, "plain"), data_path)
    plain = time.monotonic() - started
    started = time.monotonic()
    rows = grade_all(class_folder, os.path.join(work, "graded"), os.path.join(work, "grades.csv"), "local:2",
                     ["--data_path", data_path], paths=[data_path])
    dask = time.monotonic() - started
    assert all(row["status"] == "graded" for row in rows)
    print(f"{args.submissions} submissions, hidden tests of rnn, crnn and onf, two at a time on {os.cpu_count()} cores")
    print(f"plain pool of 2 processes: {plain:.1f} s ({plain / args.submissions:.1f} s each)")
    print(f"grade-all --cluster local:2 (Dask, cluster start included): {dask:.1f} s")
    print(f"Dask against the plain pool: {dask / plain:.2f}x the time")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
