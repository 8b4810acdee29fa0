"""Leaderboard speed: posting one result and rendering the page, on a board of 10,000 submissions from 300
students, each against the same operation on a board of 10 submissions (the baseline, same run).

    python bench/board.py [--students 300] [--submissions 10000] [--seed 0] [--html DIR]

--html DIR also writes the large board's static copy (as `board html` does), to look at it in a browser.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from grader.board.page import student_files, write_static  # noqa: E402
from grader.board.store import Board  # noqa: E402
from grader.scores import checkpoint_results  # noqa: E402

START = datetime(2026, 8, 1, tzinfo=timezone.utc)    # the class's 90 days end before the page's date


def results(rng, skill=None):
    """A scored results.json; a student's submissions scatter around their skill (note F1)."""
    skill = 0.95 * rng.betavariate(5, 2) if skill is None else skill
    note = min(max(skill + rng.gauss(0, 0.03), 0.0), 1.0)
    scores = {"public": {"note_f1": note, "frame_f1": note * rng.uniform(0.7, 1.0), "pieces": 25},
              "private": {"note_f1": min(max(note + rng.gauss(0, 0.02), 0.0), 1.0), "frame_f1": note * 0.9,
                          "pieces": 25}}
    leaderboard, tests = checkpoint_results(scores)
    return {"score": 31.0, "tests": tests, "leaderboard": leaderboard, "grader_version": "bench"}


def fill(db, students, submissions, rng):
    """Real posts, spread over 90 days so that the daily limit (5) never refuses one."""
    per_student = -(-submissions // students)
    started = time.perf_counter()
    posted = 0
    skills = [0.95 * rng.betavariate(5, 2) for _ in range(students)]
    with Board(db) as board:
        for n in range(per_student):
            for s in range(students):
                if posted == submissions:
                    break
                moment = START + timedelta(days=n * 90 / per_student, minutes=s % 600)
                board.post(results(rng, skills[s]), f"student{s:04d}", f"pseudonym {s:04d}", now=moment)
                posted += 1
    return posted, time.perf_counter() - started


def timed(action, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(db, rng, label):
    moment = START + timedelta(days=200)
    counter = iter(range(10**6))

    def post_one():
        with Board(db) as board:           # a fresh connection, as each `board post` opens one
            board.post(results(rng), f"late{next(counter)}", f"late {next(counter)}", now=moment)

    def render():
        with Board(db) as board:
            student_files(board)

    post_s, render_s = timed(post_one, 30), timed(render, 5)
    print(f"{label:32} post one {post_s * 1000:7.2f} ms   render page+json+csv {render_s * 1000:8.1f} ms")
    return post_s, render_s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--submissions", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--html", metavar="DIR", help="write the large board's static copy here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as work:
        small, large = os.path.join(work, "small.sqlite3"), os.path.join(work, "large.sqlite3")
        fill(small, 10, 10, rng)
        posted, seconds = fill(large, args.students, args.submissions, rng)
        print(f"filled a board with {posted} submissions from {args.students} students in {seconds:.1f} s "
              f"({posted / seconds:.0f} posts/s, one transaction each)")
        if args.html:                      # the class alone, before the timed posts below join it
            print(f"static copy of the large board: {', '.join(write_static(large, args.html))} in {args.html}")
        base_post, base_render = measure(small, rng, "baseline: 10 submissions")
        post, render = measure(large, rng, f"{posted} submissions")
        print(f"ratio large/baseline: post {post / base_post:.2f}x, render {render / base_render:.2f}x")
        path = os.path.join(work, "results.json")
        with open(path, "w") as f:
            json.dump(results(rng), f)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader", "board", "post", path, "--student", "cli", "--pseudonym",
                        "command line", "--db", large], cwd=ROOT, check=True, capture_output=True)
        print(f"`python -m grader board post` end to end (interpreter start included): "
              f"{time.perf_counter() - started:.2f} s")
        with Board(large) as board:
            print(f"page size: {len(student_files(board)['index.html']) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
