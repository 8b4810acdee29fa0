"""Several train.py runs at once: every run on all cores, against each run on its share (--threads).

    python bench/threads.py [--model_type onf] [--runs 2] [--steps 100] [--data data/default]

Times real train.py runs of the solutions (cpu profile, no validation until the last step, no test):
one run alone on all cores, then `--runs` runs side by side on all cores each, then side by side with
`--threads cores / runs` each. Prints the wall time of each run and the ratios. Run it on an idle machine.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def handout_with_solutions(folder):
    shutil.copytree(os.path.join(ROOT, "hw"), folder, ignore=shutil.ignore_patterns("runs", "tests", "log_examples",
                                                                                     "__pycache__"))
    shutil.copyfile(os.path.join(ROOT, "solutions", "model.py"), os.path.join(folder, "model.py"))
    return folder


def side_by_side(handout, count, threads, args, work):
    """Start `count` runs together; returns each one's wall seconds."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    runs = []
    for index in range(count):
        command = [sys.executable, "train.py", "--model_type", args.model_type, "--profile", "cpu", "-i",
                   str(args.steps), "-vi", str(args.steps), "--skip_test", "--data_path", args.data,
                   "--logdir", tempfile.mkdtemp(dir=work), "--seed", str(index)]
        command += ["--threads", str(threads)] if threads else []
        runs.append((time.perf_counter(), subprocess.Popen(command, cwd=handout, env=env, stdout=subprocess.DEVNULL,
                                                           stderr=subprocess.DEVNULL)))
    seconds = []
    for started, process in runs:
        if process.wait() != 0:
            sys.exit(f"a train.py run failed: {' '.join(process.args)}")
        seconds.append(time.perf_counter() - started)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", default="onf")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "default"))
    args = parser.parse_args()
    args.data = os.path.abspath(args.data)
    cores = os.cpu_count()
    share = max(cores // args.runs, 1)
    with tempfile.TemporaryDirectory() as work:
        handout = handout_with_solutions(os.path.join(work, "hw"))
        print(f"{args.model_type}, cpu profile, {args.steps} steps and one validation per run, {cores} cores")
        (alone,) = side_by_side(handout, 1, None, args, work)
        print(f"  1 run alone, all cores:              {alone:6.1f} s")
        crowded = side_by_side(handout, args.runs, None, args, work)
        print(f"  {args.runs} runs at once, all cores each:     " + ", ".join(f"{s:6.1f} s" for s in crowded))
        shared = side_by_side(handout, args.runs, share, args, work)
        print(f"  {args.runs} runs at once, --threads {share} each:  " + ", ".join(f"{s:6.1f} s" for s in shared))
    print(f"slowest run at once vs alone: all cores {max(crowded) / alone:.2f}x, --threads {share} "
          f"{max(shared) / alone:.2f}x; all cores vs --threads {share}: {max(crowded) / max(shared):.2f}x")


if __name__ == "__main__":
    main()
