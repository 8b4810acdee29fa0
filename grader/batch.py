"""Grade a folder of submissions on a Dask cluster (cluster.py); one bad submission never stops the batch.

Each submission is graded by its own `python -m grader grade` process on a worker, with an overall time
limit, so a crash or hang in one (or in the grader on one) costs that submission only. This process alone
writes: <results>/<name>/results.json and grader.log as each submission comes back, then the CSV. A
submission that already has results.json is not graded again unless `regrade`.
"""
import csv
import json
import os

from tqdm import tqdm

from .cluster import NO_WORKER_SECONDS, open_cluster, run_tasks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def submissions_in(folder):
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if not name.startswith(".") and (os.path.isdir(os.path.join(folder, name))
                                                   or name.endswith((".zip", ".py"))))


def name_of(source):
    return os.path.splitext(os.path.basename(source.rstrip("/")))[0]


def row_of(name, status, results_path, seconds=""):
    """The CSV row of a submission, from the results.json written for it."""
    row = {"submission": name, "status": status, "score": "", "max_score": "", "note_f1": "", "frame_f1": "",
           "seconds": seconds}
    try:
        with open(results_path) as f:
            results = json.load(f)
        row.update(score=results["score"], max_score=sum(t["max_score"] for t in results["tests"]))
        for entry in results.get("leaderboard", []):
            row[entry["name"].replace(" ", "_").lower()] = entry["value"]
    except (OSError, ValueError, KeyError):
        row["status"] = status if status != "graded" else "no results.json"
    return row


def write_outcome(out_folder, name, outcome):
    folder = os.path.join(out_folder, name)
    os.makedirs(folder, exist_ok=True)
    results_path = os.path.join(folder, "results.json")
    if outcome.get("results") is not None:
        with open(results_path + ".part", "w") as f:
            f.write(outcome["results"])
        os.replace(results_path + ".part", results_path)
    with open(os.path.join(folder, "grader.log"), "w") as f:
        f.write(f"worker: {outcome.get('worker', '-')}\nstatus: {outcome['status']}\n\n{outcome.get('log', '')}")
    return results_path


def grade_all(folder, out_folder, csv_path, cluster, grade_args, timeout=3600, regrade=False, gpu=False,
              paths=(), no_worker_seconds=NO_WORKER_SECONDS):
    """Grade every submission in `folder` on `cluster` (a --cluster spec); returns the CSV rows. With gpu,
    every task asks its worker for a GPU resource (only GPU workers take it). A cluster left without
    workers for no_worker_seconds ends the batch, the rest marked "not graded" for a rerun to grade."""
    sources = submissions_in(folder)
    rows, jobs = {}, []
    for source in sources:
        name = name_of(source)
        results_path = os.path.join(out_folder, name, "results.json")
        if os.path.exists(results_path) and not regrade:
            rows[name] = row_of(name, "graded earlier", results_path)
        else:
            jobs.append((name, source, grade_args, [os.path.join(ROOT, "hw")] + list(paths)))
    if jobs:
        client, cluster_object = open_cluster(cluster, gpu=gpu)
        bar = tqdm(total=len(jobs), desc="grading", unit="submission")

        def progress(name, outcome, counts):
            rows[name] = row_of(name, outcome["status"], write_outcome(out_folder, name, outcome),
                                outcome.get("seconds", ""))
            bar.set_postfix(done=counts["done"], failed=counts["failed"], running=counts["running"])
            bar.update()
        try:
            run_tasks(client, jobs, timeout, resources={"GPU": 1} if gpu else None, progress=progress,
                      no_worker_seconds=no_worker_seconds)
        finally:
            bar.close()
            client.close()
            if cluster_object is not None:
                cluster_object.close()
    ordered = [rows[name_of(source)] for source in sources]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ordered[0]) if ordered else ["submission"])
        writer.writeheader()
        writer.writerows(ordered)
    return ordered
