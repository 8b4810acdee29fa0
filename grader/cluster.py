"""Grade a class on many machines with dask.distributed: this laptop's cores, workers started by hand, or a
Slurm cluster through dask-jobqueue.

    --cluster local:N           N worker processes on this machine (`--jobs N` means this)
    --cluster tcp://HOST:PORT   a scheduler and workers started by hand (`dask scheduler`, `dask worker`)
    --cluster slurm:N           N Slurm jobs of workers, as ~/.config/dask/jobqueue.yaml describes them
    --cluster jobqueue-local:N  dask-jobqueue's job scripts, run as local processes (tests that path)

Each submission is one task. On its worker the task checks that the worker can grade (bubblewrap can
isolate student code there; the handout, data and submission paths exist), then runs the same sandboxed
`python -m grader grade` as one grading does, into a private folder, and returns results.json's text.
Only the client writes anything: each submission's results.json and grader.log, then the CSV, so nothing
is written from workers or over shared storage. A worker that dies mid-grade strikes the submissions it
was grading (they logged their start) and only those: Dask's own count would strike every task assigned to
the dying worker, so one deadly submission could fail its innocent neighbours. Struck or not, the tasks it
held run again elsewhere; a submission struck more than ALLOWED_FAILURES times is marked failed with that
reason. (For this the client sets the scheduler's own retry count to zero, a hand-started one's too.)
Once the cluster has had workers, a batch left with none for NO_WORKER_SECONDS (they all died, or their
Slurm jobs ended) ends: what it did not grade is marked `not graded`, without results.json. A batch is
resumable: submissions that already have results.json are skipped unless `regrade`.
"""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED_FAILURES = 2                   # worker deaths one task may cause before it is marked failed
CONNECT_SECONDS = 10
NO_WORKER_SECONDS = 300                # a nanny restarts a killed worker in seconds; a dead cluster never
STARTED = "grading-started"            # the event each task logs on the scheduler as it starts
_libc = ctypes.CDLL(None, use_errno=True)


class ClusterError(RuntimeError):
    """The cluster cannot be reached or started; the message says what to do."""


class WorkerUnfit(RuntimeError):
    """This worker cannot grade: it lacks something every worker needs."""


def open_cluster(spec, gpu=False):
    """(client, cluster or None) for a --cluster spec; ClusterError in one sentence when that fails."""
    import dask
    from distributed import Client
    dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_SECONDS}s"})
    kind, _, value = spec.partition(":")
    resources = {"GPU": 1} if gpu else None
    try:
        if spec.startswith("tcp://"):
            return Client(spec, timeout=CONNECT_SECONDS), None
        workers = int(value)
        if kind == "local":
            from distributed import LocalCluster
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, memory_limit=0, resources=resources)
        elif kind in ("slurm", "jobqueue-local"):
            extra = ["--resources", "GPU=1"] if gpu else []
            if kind == "slurm":
                from dask_jobqueue import SLURMCluster
                cluster = SLURMCluster(worker_extra_args=extra)
            else:
                from dask_jobqueue.local import LocalCluster as JobScriptCluster
                cluster = JobScriptCluster(cores=1, processes=1, memory="4GB", worker_extra_args=extra,
                                           scheduler_options={"host": "127.0.0.1", "dashboard_address": None})
            cluster.scale(jobs=workers)
        else:
            raise ValueError(spec)
    except ValueError:
        raise ClusterError(f"--cluster {spec!r} is not one of local:N, tcp://HOST:PORT, slurm:N or "
                           "jobqueue-local:N") from None
    except OSError as error:
        raise ClusterError(f"could not reach the Dask scheduler at {spec} within {CONNECT_SECONDS} s ({error}): "
                           "start it with `dask scheduler` (and workers with `dask worker ADDRESS`), or check "
                           "the address and port") from None
    return Client(cluster), cluster


def worker_problem(paths, isolate=True):
    """Why this worker cannot grade, in one sentence, or None."""
    from .sandbox import SandboxUnavailable, isolation_tier
    host = socket.gethostname()
    for path in paths:
        if not os.path.exists(path):
            return f"worker {host} cannot see {path}: every worker needs the same handout, data and submission paths"
    try:
        if isolate:
            isolation_tier()
    except SandboxUnavailable as error:
        return f"worker {host} cannot isolate student code: {error}"
    return None


def die_with_parent():
    PR_SET_PDEATHSIG = 1
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def grade_on_worker(source, grade_args, timeout, paths):
    """One submission graded on this worker: {status, results (the text of results.json or None), log, seconds,
    worker (host and Dask worker name)}. The grading is the same `python -m grader grade` as on one machine,
    and dies with the worker."""
    from distributed import get_worker
    worker = get_worker()
    worker.log_event(STARTED, {"key": worker.get_current_task()})
    problem = worker_problem([source] + paths, isolate="--unsafe-no-sandbox" not in grade_args)
    if problem:
        raise WorkerUnfit(problem)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-task-") as folder:
        results_path = os.path.join(folder, "results.json")
        command = [sys.executable, "-m", "grader", "grade", source, "--out", results_path] + grade_args
        try:
            process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                                     preexec_fn=die_with_parent)
            status = "graded" if process.returncode == 0 else f"grader exited with {process.returncode}"
            log = process.stdout + process.stderr
        except subprocess.TimeoutExpired:
            status, log = f"grader ran past {timeout} s", ""
        results = open(results_path).read() if os.path.exists(results_path) else None
    return {"status": status, "results": results, "log": log, "seconds": round(time.monotonic() - started, 1),
            "worker": f"{socket.gethostname()} ({worker.name})"}


def _no_retries_on_the_scheduler(dask_scheduler):
    # A worker's death errs all the tasks it held at once (KilledWorker); the client, which knows which of
    # them had started, decides what to strike and runs them all again.
    dask_scheduler.allowed_failures = 0


class WorkerWatch:
    """How long the cluster has had no worker, counted only once it has had one: a Slurm job may wait in
    its queue for hours before its worker starts, but a cluster whose workers have all gone is dead."""

    def __init__(self, client):
        self.client, self.seen, self.last_seen = client, False, time.monotonic()

    def seconds_without_workers(self):
        if self.client.scheduler_info(n_workers=1)["workers"]:
            self.seen, self.last_seen = True, time.monotonic()
        return time.monotonic() - self.last_seen if self.seen else 0.0


def run_tasks(client, jobs, timeout, resources=None, progress=None, no_worker_seconds=NO_WORKER_SECONDS):
    """Grade every (name, source, grade_args, paths) of `jobs` on the cluster; calls progress(name, outcome,
    counts) as each ends. Returns {name: outcome}, an outcome being grade_on_worker's dict or, for a task
    that failed, {status: "failed: <reason>"}, or, for one left when the cluster had no worker for
    no_worker_seconds, {status: "not graded: <reason>"}."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker
    client.run_on_scheduler(_no_retries_on_the_scheduler)
    tries, deaths = {}, {}

    def submit(job):
        name, source, grade_args, paths = job
        tries[name] = tries.get(name, 0) + 1
        return client.submit(grade_on_worker, source, grade_args, timeout, paths, pure=False,
                             key=f"grade-{name}-try-{tries[name]}", resources=resources)

    futures = {submit(job): job for job in jobs}
    queue = as_completed(futures)
    outcomes, counts = {}, {"done": 0, "failed": 0}
    watch = WorkerWatch(client)

    def report(name, outcome):
        outcomes[name] = outcome
        if progress:
            counts["running"] = sum(len(keys) for keys in client.processing().values())
            progress(name, outcome, counts)

    while not queue.is_empty():
        if not queue.has_ready():
            if watch.seconds_without_workers() > no_worker_seconds:
                break
            time.sleep(0.5)
            continue
        future = next(queue)
        job = futures.pop(future)
        name = job[0]
        try:
            outcome = future.result()
            counts["done"] += 1
        except KilledWorker:
            started = {message["key"] for _, message in client.get_events(STARTED)}
            deaths[name] = deaths.get(name, 0) + (future.key in started)
            if deaths[name] <= ALLOWED_FAILURES:
                retry = submit(job)
                futures[retry] = job
                queue.add(retry)
                continue
            outcome = {"status": f"failed: its grading killed the worker {deaths[name]} times"}
            counts["failed"] += 1
        except WorkerUnfit as error:
            outcome = {"status": f"failed: {error}"}
            counts["failed"] += 1
        except Exception as error:                   # never lose the batch for one task
            outcome = {"status": f"failed: {type(error).__name__}: {error}"}
            counts["failed"] += 1
        report(name, outcome)
    for future, (name, *_) in futures.items():
        future.cancel()
        report(name, {"status": f"not graded: the cluster had no worker for {no_worker_seconds} s (they died "
                                "or ended); start workers and run grade-all again, which keeps what is graded"})
    return outcomes
