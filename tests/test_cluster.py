"""grade-all on a real Dask cluster: worker processes on loopback grading real submission folders, a worker
killed mid-task, a submission that kills its worker every time beside innocent ones, an unreachable
scheduler, dask-jobqueue's job-script path, and resumed batches."""
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from distributed import Client, LocalCluster

from grader.batch import grade_all
from grader.cluster import ALLOWED_FAILURES
from grader.grade import grade
from grader.sandbox import bubblewrap_available
from submissions import HANDOUT, HOSTILE, MISTAKES, ROOT, hostile_text, solution_text, write_submission

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap is not installed (make setup)")


def grade_args(data, time_limit=20):
    return ["--data_path", data, "--models", "rnn", "--time_limit", str(time_limit)]


def read_csv(path):
    return list(csv.DictReader(open(path)))


def local_cluster(workers):
    """Worker processes on loopback, each restarted by its nanny when killed."""
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, memory_limit=0)


@pytest.fixture
def cluster():
    with local_cluster(2) as local, Client(local) as client:
        yield local, client


def worker_pids(client):
    return client.run(os.getpid)                      # {worker address: pid}


def executing(client):
    """{worker address: the keys it is running now}. Not client.processing(), which also lists tasks merely
    assigned to a worker: killing a worker for a task waiting there would strike the task it runs instead,
    which a deadly submission, killing its worker only while it runs, never does."""
    return client.run(lambda dask_worker: [task.key for task in dask_worker.state.executing])


def kill_worker_running(client, name, times, killed, stop=None):
    """SIGKILL whichever worker process grades submission `name`, `times` times at most (each time once its
    task runs again), until `stop` is set."""
    prefix = f"grade-{name}-try-"
    while len(killed) < times and not (stop and stop.is_set()):
        try:
            running = executing(client)
        except Exception:                              # the scheduler is busy with a restart: look again
            running = {}
        for address, keys in running.items():
            key = next((key for key in keys if key.startswith(prefix)), None)
            if key is None:
                continue
            time.sleep(1.0)                            # mid-task: the grading has started
            try:
                if key not in executing(client).get(address, ()):     # it moved or ended meanwhile
                    continue
                pid = worker_pids(client).get(address)
            except Exception:                          # a worker still restarting after an earlier kill
                continue
            if pid and pid not in killed:              # a restarted worker may keep its address, not its pid
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.2)


def test_a_local_cluster_grades_like_grade(tiny_data, tmp_path):
    folder = tmp_path / "class"
    write_submission(str(folder / "good"), solution_text())
    write_submission(str(folder / "stub"), open(HANDOUT).read())
    write_submission(str(folder / "swapped"), MISTAKES["swapped outputs"][1]())
    rows = grade_all(str(folder), str(tmp_path / "graded"), str(tmp_path / "grades.csv"), "local:2",
                     grade_args(tiny_data), paths=[tiny_data])
    assert [row["submission"] for row in rows] == ["good", "stub", "swapped"]
    for row in rows:
        direct = grade(str(folder / row["submission"]), tiny_data, models=["rnn"])
        assert (row["status"], row["score"], row["max_score"]) == ("graded", direct["score"], 10), row
        stored = json.load(open(tmp_path / "graded" / row["submission"] / "results.json"))
        assert [(t["name"], t["score"]) for t in stored["tests"]] == [(t["name"], t["score"]) for t in direct["tests"]]
    assert [row["score"] for row in rows] == [10, 0, 7]
    assert read_csv(tmp_path / "grades.csv") == [{k: str(v) for k, v in row.items()} for row in rows]


def test_a_killed_worker_retries_elsewhere_and_every_result_appears_once(tiny_data, tmp_path, cluster):
    local, client = cluster
    folder = tmp_path / "class"
    for name in ["a", "b", "c", "d"]:
        write_submission(str(folder / name), solution_text())
    killed = []
    killer = threading.Thread(target=kill_worker_running, args=(client, "b", 1, killed), daemon=True)
    killer.start()
    rows = grade_all(str(folder), str(tmp_path / "graded"), str(tmp_path / "grades.csv"), local.scheduler_address,
                     grade_args(tiny_data), paths=[tiny_data])
    killer.join(timeout=5)
    assert len(killed) == 1
    assert [(r["submission"], r["status"], r["score"]) for r in rows] == [(n, "graded", 10) for n in "abcd"]
    assert [r["submission"] for r in read_csv(tmp_path / "grades.csv")] == list("abcd")
    assert sorted(os.listdir(tmp_path / "graded")) == list("abcd")


def test_a_submission_that_kills_its_worker_every_time_fails_alone(tiny_data, tmp_path):
    # One worker, so the deadly submission's neighbours wait on the very worker it kills: each death strikes
    # the deadly one exactly once (it logged its start) and none of the neighbours queued there.
    folder = tmp_path / "class"
    names = ["deadly", "fine-1", "fine-2", "fine-3"]
    for name in names:
        write_submission(str(folder / name), solution_text())
    killed, stop = [], threading.Event()
    with local_cluster(1) as local, Client(local) as client:
        killer = threading.Thread(target=kill_worker_running,
                                  args=(client, "deadly", ALLOWED_FAILURES + 1, killed, stop), daemon=True)
        killer.start()
        rows = grade_all(str(folder), str(tmp_path / "graded"), str(tmp_path / "grades.csv"),
                         local.scheduler_address, grade_args(tiny_data), paths=[tiny_data])
        stop.set()
    assert len(killed) == ALLOWED_FAILURES + 1
    deadly, *fine = rows
    assert deadly["status"] == f"failed: its grading killed the worker {ALLOWED_FAILURES + 1} times", (deadly, killed)
    assert [(row["submission"], row["status"], row["score"]) for row in fine] == [(n, "graded", 10) for n in names[1:]]
    assert "killed the worker" in open(tmp_path / "graded" / "deadly" / "grader.log").read()


def run_cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True, **kwargs)


def test_an_unreachable_scheduler_is_one_sentence_within_seconds(tmp_path):
    (tmp_path / "class" / "a").mkdir(parents=True)
    started = time.monotonic()
    run = run_cli(["grade-all", str(tmp_path / "class"), "--cluster", "tcp://127.0.0.1:9", "--csv",
                   str(tmp_path / "g.csv"), "--results", str(tmp_path / "graded")], timeout=120)
    assert run.returncode != 0 and time.monotonic() - started < 40
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:9" in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1, run.stderr


def test_jobqueue_job_scripts_grade_and_a_rerun_skips_what_is_graded(tiny_data, tmp_path):
    folder = tmp_path / "class"
    write_submission(str(folder / "good"), solution_text())
    write_submission(str(folder / "loops"), hostile_text(HOSTILE["infinite loop"][1], "rnn"))
    command = ["grade-all", str(folder), "--cluster", "jobqueue-local:1", "--csv", str(tmp_path / "g.csv"),
               "--results", str(tmp_path / "graded"), "--data_path", tiny_data, "--models", "rnn", "--time_limit", "10"]
    first = run_cli(command, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = {row["submission"]: row for row in read_csv(tmp_path / "g.csv")}
    assert (rows["good"]["score"], rows["loops"]["score"]) == ("10.0", "0.0")
    assert "time limit" in open(tmp_path / "graded" / "loops" / "results.json").read()
    written = os.stat(tmp_path / "graded" / "good" / "results.json").st_mtime_ns
    again = run_cli(command, timeout=600)
    assert again.returncode == 0 and [r["status"] for r in read_csv(tmp_path / "g.csv")] == ["graded earlier"] * 2
    assert os.stat(tmp_path / "graded" / "good" / "results.json").st_mtime_ns == written
    assert [r["score"] for r in read_csv(tmp_path / "g.csv")] == ["10.0", "0.0"]
    regrade = run_cli(command + ["--regrade", "--cluster", "local:2"], timeout=600)
    assert regrade.returncode == 0 and [r["status"] for r in read_csv(tmp_path / "g.csv")] == ["graded"] * 2
    assert os.stat(tmp_path / "graded" / "good" / "results.json").st_mtime_ns != written


def test_with_a_gpu_only_gpu_workers_take_the_tasks(tiny_data, tmp_path, cluster):
    # The fixture's two workers have no GPU; a third, started by hand as on a GPU node, declares one.
    local, client = cluster
    gpu_worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", local.scheduler_address, "--nthreads", "1",
                                   "--name", "gpu-node", "--resources", "GPU=1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(3, timeout=60)
        folder = tmp_path / "class"
        for name in ["a", "b", "c", "d"]:
            write_submission(str(folder / name), open(HANDOUT).read())
        rows = grade_all(str(folder), str(tmp_path / "graded"), str(tmp_path / "grades.csv"), local.scheduler_address,
                         grade_args(tiny_data), paths=[tiny_data], gpu=True)
    finally:
        gpu_worker.terminate()
        gpu_worker.wait(timeout=30)
    assert [(r["submission"], r["status"]) for r in rows] == [(n, "graded") for n in "abcd"]
    workers = [open(tmp_path / "graded" / n / "grader.log").readline().strip() for n in "abcd"]
    assert all(line.endswith("(gpu-node)") for line in workers), workers


def start_worker(address, name):
    """A worker started by hand without a nanny, as on a Slurm node: killed, it stays dead."""
    return subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--no-nanny",
                             "--name", name, "--no-dashboard", "--memory-limit", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_cluster_that_loses_every_worker_ends_the_batch_and_a_rerun_grades_the_rest(tiny_data, tmp_path):
    folder = tmp_path / "class"
    for name in "abc":
        write_submission(str(folder / name), solution_text())
    command = (str(folder), str(tmp_path / "graded"), str(tmp_path / "grades.csv"))
    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None) as local, \
            Client(local) as client:
        first = start_worker(local.scheduler_address, "first")
        try:
            client.wait_for_workers(1, timeout=60)
            killed = []
            # The only worker dies while grading b: its pid is the worker's own, as no nanny runs it.
            killer = threading.Thread(target=kill_worker_running, args=(client, "b", 1, killed), daemon=True)
            killer.start()
            started = time.monotonic()
            rows = grade_all(*command, local.scheduler_address, grade_args(tiny_data), paths=[tiny_data],
                             no_worker_seconds=5)
            waited = time.monotonic() - started
        finally:
            first.kill()
            first.wait(timeout=30)
        assert killed == [first.pid]
        # The worker took the tasks in an order of its own: b, killed mid-grade, and whatever it had not
        # reached are left without results.json; what it finished keeps its results.
        status = {row["submission"]: row["status"] for row in rows}
        assert status["b"].startswith("not graded: the cluster had no worker for 5 s") and waited < 120, rows
        left = sorted(name for name in status if status[name].startswith("not graded"))
        assert all(status[name] == "graded" for name in set(status) - set(left)), rows
        for name in status:
            assert os.path.exists(tmp_path / "graded" / name / "results.json") == (name not in left)
            assert status[name] in open(tmp_path / "graded" / name / "grader.log").read()
        written = {name: os.stat(tmp_path / "graded" / name / "results.json").st_mtime_ns
                   for name in status if name not in left}
        second = start_worker(local.scheduler_address, "second")
        try:
            rows = grade_all(*command, local.scheduler_address, grade_args(tiny_data), paths=[tiny_data])
        finally:
            second.terminate()
            second.wait(timeout=30)
    assert [(r["submission"], r["status"], r["score"]) for r in rows] == [
        (name, "graded" if name in left else "graded earlier", 10) for name in "abc"], rows
    assert {name: os.stat(tmp_path / "graded" / name / "results.json").st_mtime_ns for name in written} == written
