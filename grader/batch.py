"""Grade a folder of submissions in parallel; one bad submission never stops the batch.

Each submission is graded by its own `python -m grader grade` process with an overall time limit, so a
crash or hang in one (or in the grader on one) costs that submission only.
"""
import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def submissions_in(folder):
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if not name.startswith(".") and (os.path.isdir(os.path.join(folder, name))
                                                   or name.endswith((".zip", ".py"))))


def grade_one(source, out_folder, grade_args, timeout):
    name = os.path.splitext(os.path.basename(source.rstrip("/")))[0]
    results_path = os.path.join(out_folder, name, "results.json")
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    command = [sys.executable, "-m", "grader", "grade", source, "--out", results_path] + grade_args
    started = time.monotonic()
    try:
        process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        status = "graded" if process.returncode == 0 else f"grader exited with {process.returncode}"
        log = process.stdout + process.stderr
    except subprocess.TimeoutExpired:
        status, log = f"grader ran past {timeout} s", ""
    with open(os.path.join(os.path.dirname(results_path), "grader.log"), "w") as f:
        f.write(log)
    row = {"submission": name, "status": status, "score": "", "max_score": "", "note_f1": "", "frame_f1": "",
           "seconds": round(time.monotonic() - started, 1)}
    try:
        with open(results_path) as f:
            results = json.load(f)
        row.update(score=results["score"], max_score=sum(t["max_score"] for t in results["tests"]))
        for entry in results.get("leaderboard", []):
            row[entry["name"].replace(" ", "_").lower()] = entry["value"]
    except (OSError, ValueError, KeyError):
        row["status"] = row["status"] if row["status"] != "graded" else "no results.json"
    return row


def grade_all(folder, out_folder, csv_path, jobs, grade_args, timeout=3600):
    sources = submissions_in(folder)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(lambda s: grade_one(s, out_folder, grade_args, timeout), sources))
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["submission"])
        writer.writeheader()
        writer.writerows(rows)
    return rows
