"""What the Gradescope bundle needs: run_autograder's wall time and peak memory on one submission (the
solutions), in the confined tier (a Docker-like container) beside bubblewrap, on one autograder folder set
up by the bundle's own setup.sh (as root, as Gradescope runs it).

    python bench/gradescope.py [--runs 3] [--image DIR]

Memory is the peak of the summed proportional set size (PSS, shared pages split between the processes
that map them) of run_autograder and every process under it, sampled every 20 ms: what the container's
memory limit has to hold, page cache aside.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from autograder_image import autograder_command, build_image, put_submission, read_results  # noqa: E402
from submissions import solution_text  # noqa: E402


def tree(pid):
    """pid and every process below it."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def pss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) << 10
                        break
        except OSError:
            pass
    return total


def measure(image, confined):
    started = time.monotonic()
    process = subprocess.Popen(autograder_command(image, confined), env=dict(os.environ, AUTOGRADER=image),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, pss_bytes(tree(process.pid)))
        time.sleep(0.02)
    return time.monotonic() - started, peak, read_results(image)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--image", help="an autograder folder already set up (default: set one up now)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the bundle runs as root on Gradescope, and the confined tier needs it")
    started = time.monotonic()
    image = args.image or build_image()
    if not args.image:
        print(f"setup.sh (Docker-like, pip's cache warm): {time.monotonic() - started:.0f} s")
    put_submission(image, solution_text())
    figures = {}
    for run in range(args.runs):
        for confined in (True, False):
            seconds, peak, results = measure(image, confined)
            assert results["score"] == 31, results["output"]
            figures.setdefault(results["isolation"], []).append((seconds, peak))
    for tier, rows in figures.items():
        seconds, peaks = sorted(r[0] for r in rows), [r[1] for r in rows]
        print(f"{tier:>10}: run_autograder on the solutions (31/31), median {seconds[len(seconds) // 2]:.1f} s "
              f"(of {len(rows)}: {', '.join(f'{s:.1f}' for s in seconds)}), peak PSS {max(peaks) / 2**20:.0f} MiB")
    confined, plain = (sorted(r[0] for r in figures[t])[len(figures[t]) // 2] for t in ("confined", "bubblewrap"))
    print(f"confined tier against bubblewrap: {confined / plain:.2f}x the time")
    if not args.image:
        shutil.rmtree(image, ignore_errors=True)


if __name__ == "__main__":
    main()
