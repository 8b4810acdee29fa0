"""Run untrusted student code in a bubblewrap sandbox.

The grader never imports student code. It lays out the files the student code may see, then runs one
command under bubblewrap (https://github.com/containers/bubblewrap):

- a fresh root holding only /usr, /etc, the Python environment (read-only) and the folders the grader
  binds; nothing else of the host (no repository, no solutions, no grader, no home folders);
- no network (a new network namespace), a private PID space, a new session, all capabilities dropped;
- an unprivileged user: when the grader runs as root it becomes an unused user id of its own (one per
  sandbox, from SANDBOX_UIDS) before starting bubblewrap, so the process limit counts only that
  sandbox's processes and one submission's fork bomb cannot starve another graded beside it;
- resource limits on address space, CPU time, processes, file size and open files;
- a wall-clock timeout that kills bubblewrap, which takes the whole PID namespace with it.

With `Limits(gpu=True)` (the metric check's `--device cuda`) the NVIDIA device nodes (/dev/nvidia*) and
a read-only /sys are bound in and CUDA_VISIBLE_DEVICES passes through, and the address-space limit is
lifted: CUDA reserves far more address space than it uses, so under that limit it cannot start. Memory
is then bounded only by the machine; run the grader inside a cgroup (for example
`systemd-run --scope -p MemoryMax=16G python -m grader ...`) where that matters.

Paths that user may not enter (a Python under /root, say) are bound from inside a private
mount namespace (`unshare --mount` and grader/launch.py), so the host's mounts never change.

Where bubblewrap cannot create namespaces (a Docker container such as Gradescope's, Kubernetes, HPC
sites that disable user namespaces) and the grader runs as root, the confined-container tier of
confined.py runs the command instead: isolation_tier() probes bubblewrap once per process and says
which tier runs. Without bubblewrap the grader refuses to run student code unless the caller passes
unsafe=True; then the command runs in a plain child process with the same limits and timeout but no
isolation.
"""
import glob
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from . import confined

SANDBOX_UIDS = range(200000, 300000)    # no account has these ids; each sandbox draws one
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")
SANDBOX_ROOT = "/grade"
BUBBLEWRAP, CONFINED, UNSAFE = "bubblewrap", "confined", "unsafe"
TIER_NAMES = {BUBBLEWRAP: "bubblewrap (own namespaces: a fresh root, no network, private PIDs; an unused user id)",
              CONFINED: f"confined container (bubblewrap cannot create namespaces here): the dedicated user "
                        f"{confined.USER}, seccomp (no network, no namespaces, no mounts), only the files handed over",
              UNSAFE: "NONE: GRADED WITHOUT A SANDBOX (--unsafe-no-sandbox), student code ran unisolated"}


class SandboxUnavailable(RuntimeError):
    pass


@dataclass
class Limits:
    wall_seconds: float = 120.0
    cpu_seconds: int = 600             # per process
    memory_bytes: int = 6 << 30        # address space per process (torch alone maps about 1.5 GiB)
    processes: int = 64                # threads count too: torch starts one per core and a few more
    file_bytes: int = 256 << 20        # largest file the code may write
    open_files: int = 512
    threads: int = 2                   # OMP_NUM_THREADS
    gpu: bool = False                  # bind the NVIDIA devices in (and lift memory_bytes, see above)


@dataclass
class Outcome:
    returncode: int
    timed_out: bool
    wall_seconds: float
    output: str                        # the end of stdout and stderr together

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out

    def reason(self, limits):
        """Why the command failed, in one sentence for the student."""
        if self.timed_out:
            return f"it ran past the time limit of {limits.wall_seconds:.0f} s and was stopped"
        if self.returncode == -signal.SIGKILL or self.returncode == 128 + signal.SIGKILL:
            return "it was killed (out of memory or another limit)"
        if self.returncode == -signal.SIGXCPU or self.returncode == 128 + signal.SIGXCPU:
            return f"it used more than {limits.cpu_seconds} s of CPU time"
        if self.returncode == -signal.SIGXFSZ or self.returncode == 128 + signal.SIGXFSZ:
            return f"it wrote a file larger than {limits.file_bytes >> 20} MiB"
        last = last_line(self.output)
        return f"it exited with status {self.returncode}" + (f": {last}" if last else "")


def bubblewrap_available():
    return shutil.which("bwrap") is not None


def require_bubblewrap():
    if not bubblewrap_available():
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be isolated: install it "
            "(apt-get install bubblewrap) or pass --unsafe-no-sandbox to grade without isolation.")


_tier = []                             # (tier, or the SandboxUnavailable to raise), once per process


def isolation_tier():
    """BUBBLEWRAP where bubblewrap can start here; CONFINED where it cannot for lack of namespaces and the
    grader runs as root; otherwise SandboxUnavailable naming the cause. Probed once per process."""
    if not _tier:
        try:
            _tier.append(probe_tiers())
        except SandboxUnavailable as error:
            _tier.append(error)
    if isinstance(_tier[0], SandboxUnavailable):
        raise _tier[0]
    return _tier[0]


def probe_tiers():
    require_bubblewrap()
    outcome = Sandbox(limits=Limits(wall_seconds=30), tier=BUBBLEWRAP).run(["true"], cwd="/")
    if outcome.ok:
        return BUBBLEWRAP
    said = last_line(outcome.output) or f"exit status {outcome.returncode}"
    if not any(sign in outcome.output for sign in ("namespace", "unshare failed", "uid map")):
        raise SandboxUnavailable(f"bubblewrap failed to start ({said}), so student code cannot be isolated")
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({said}), and the confined-container tier needs the "
            "grader to run as root: allow unprivileged user namespaces, or grade as root in the container")
    try:
        check = Sandbox(limits=Limits(wall_seconds=60), tier=CONFINED)
        outcome = check.run([sys.executable, "-c", "import numpy"], cwd=check.scratch)
    except confined.ConfinedUnavailable as error:
        raise SandboxUnavailable(f"bubblewrap cannot create namespaces here ({said}), and the confined-container "
                                 f"tier cannot run: {error}") from None
    if not outcome.ok:
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({said}), and in the confined-container tier the user "
            f"{confined.USER} cannot run this grader's Python {sys.executable} ({last_line(outcome.output)}): "
            "put the environment where every user may read it (the bundle's setup.sh does)")
    return CONFINED


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def gpu_devices():
    """The NVIDIA device nodes a CUDA process opens: nvidia0.., nvidiactl, nvidia-uvm, nvidia-caps/..."""
    return sorted(glob.glob("/dev/nvidia*"))


def require_gpu():
    """The NVIDIA device nodes, or a SandboxUnavailable that says there are none."""
    devices = gpu_devices()
    if not devices:
        raise SandboxUnavailable("a GPU was asked for (--device cuda) but this machine has no NVIDIA device "
                                 "under /dev (/dev/nvidia*): grade on the GPU machine, or leave out --device cuda.")
    return devices


def python_paths():
    """The folders the sandboxed Python needs: the environment and the interpreter it was made from."""
    paths = {os.path.abspath(sys.prefix), os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(p for p in paths if not p.startswith("/usr/") and p != "/usr")


class Sandbox:
    """Folders bound into a sandbox, and the commands run in it.

    `read_only(host, name)` and `writable(host, name)` bind a host path at /grade/<name> and return the
    path the sandboxed command sees: under bubblewrap /grade/<name>, in the confined tier <box>/<name>
    (a copy, brought back after the run if writable), in unsafe mode the host path itself.
    """

    def __init__(self, unsafe=False, limits=None, tier=None):
        self.tier = UNSAFE if unsafe else tier or isolation_tier()
        self.limits = limits or Limits()
        self.binds = []                # (host, inside, writable)
        try:
            self.box = confined.Box() if self.tier == CONFINED else None
        except confined.ConfinedUnavailable as error:
            raise SandboxUnavailable(f"the confined-container tier cannot run: {error}") from None
        if self.box:
            self.uid = self.box.uid
        elif os.geteuid() == 0 and self.tier == BUBBLEWRAP:
            self.uid = SANDBOX_UIDS[secrets.randbelow(len(SANDBOX_UIDS))]
        else:
            self.uid = os.getuid()
        self.devices = require_gpu() if self.limits.gpu else []

    @property
    def unsafe(self):
        return self.tier == UNSAFE

    @property
    def scratch(self):
        """A writable folder of the sandbox's own, as the command sees it (its HOME and TMPDIR)."""
        return self.box.scratch if self.box else "/tmp"

    def _bind(self, host, name, writable):
        host = os.path.abspath(host)
        if not os.path.exists(host):
            raise FileNotFoundError(host)
        inside = {UNSAFE: host, BUBBLEWRAP: f"{SANDBOX_ROOT}/{name}"}.get(self.tier) or self.box.path(name)
        self.binds.append((host, inside, writable))
        return inside

    def read_only(self, host, name):
        return self._bind(host, name, writable=False)

    def writable(self, host, name):
        if self.tier == BUBBLEWRAP and os.geteuid() == 0:
            for folder, _, files in os.walk(host):
                for path in [folder] + [os.path.join(folder, f) for f in files]:
                    os.chown(path, self.uid, self.uid)
        return self._bind(host, name, writable=True)

    def environment(self):
        threads = str(self.limits.threads)
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES") if self.limits.gpu else ""
        home = self.scratch
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
                "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0", "MPLCONFIGDIR": home, "MPLBACKEND": "Agg",
                **({} if gpus is None else {"CUDA_VISIBLE_DEVICES": gpus})}

    def bubblewrap_command(self, argv, cwd, expose=None):
        command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                   "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
                   "--proc", "/proc", "--dev", "/dev", "--size", str(256 << 20), "--tmpfs", "/tmp",
                   "--clearenv", "--hostname", "sandbox"]
        for name in ["bin", "lib", "lib32", "lib64", "sbin"]:
            path = "/" + name
            if os.path.islink(path):
                command += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                command += ["--ro-bind", path, path]
        mounts = [(p, p, False) for p in python_paths()] + self.binds
        for index, (host, inside, writable) in enumerate(mounts):
            source = os.path.join(expose, str(index)) if expose else host
            command += ["--bind" if writable else "--ro-bind", source, inside]
        for device in self.devices:              # world-usable nodes: no need to expose them for the user
            command += ["--dev-bind", device, device]
        if self.devices:
            command += ["--ro-bind", "/sys", "/sys"]
        for key, value in self.environment().items():
            command += ["--setenv", key, value]
        command += ["--chdir", cwd, "--"] + list(argv)
        return command, [host for host, _, _ in mounts]

    def rlimits(self, nproc_extra=0):
        """{resource name: limit}: set here before exec, or by launch.py for a sandbox started by root."""
        limits = self.limits
        table = {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_CPU": limits.cpu_seconds,
                 "RLIMIT_NPROC": limits.processes + nproc_extra, "RLIMIT_FSIZE": limits.file_bytes,
                 "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0}
        if limits.gpu:
            del table["RLIMIT_AS"]
        return table

    def set_limits(self, nproc_extra=0):
        for name, value in self.rlimits(nproc_extra).items():
            resource.setrlimit(getattr(resource, name), (value, value))

    def run(self, argv, cwd):
        """Run argv inside the sandbox (cwd as the sandbox sees it); returns an Outcome."""
        if self.unsafe:
            env = dict(os.environ, **{k: v for k, v in self.environment().items() if k not in ("PATH", "HOME", "TMPDIR")})
            return self._wait(subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=lambda: self.set_limits(own_processes())))
        if self.tier == CONFINED:
            return self._run_confined(argv, cwd)
        try:
            return self._run_bubblewrap(argv, cwd)
        finally:       # the grader reads these next: no link the student code left may lead it elsewhere
            for host, _, writable in self.binds:
                if writable:
                    confined.disarm(host)

    def _run_bubblewrap(self, argv, cwd):
        if os.geteuid() == 0:
            expose = tempfile.mkdtemp(prefix="grader-expose-")
            os.chmod(expose, 0o755)
            command, sources = self.bubblewrap_command(argv, cwd, expose)
            spec = {"tier": BUBBLEWRAP, "expose": expose, "sources": sources, "uid": self.uid,
                    "command": command, "rlimits": self.rlimits()}
            try:
                return self._wait(subprocess.Popen(
                    ["unshare", "--mount", "--propagation", "private", sys.executable, "-I", LAUNCHER,
                     json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True))
            finally:
                reap(self.uid)
                shutil.rmtree(expose, ignore_errors=True)
        command, _ = self.bubblewrap_command(argv, cwd)
        return self._wait(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           start_new_session=True,
                                           preexec_fn=lambda: self.set_limits(own_processes())))

    def _run_confined(self, argv, cwd):
        """The confined tier (confined.py): the box is filled, the command runs as the dedicated user under
        launch.py's seccomp filter, then every process of that user is killed before the box is emptied."""
        confined.adopt_orphans()
        with self.box.session(self.binds, stop_processes=lambda: reap(self.uid)):
            spec = {"tier": CONFINED, "uid": self.box.uid, "gid": self.box.gid, "command": list(argv), "cwd": cwd,
                    "environment": self.environment(), "rlimits": self.rlimits()}
            try:
                return self._wait(subprocess.Popen([sys.executable, "-I", LAUNCHER, json.dumps(spec)],
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                   start_new_session=True))
            finally:
                reap(self.uid)

    def _wait(self, process, keep=20000):
        start = time.monotonic()
        chunks, size = [], 0
        timed_out = False
        os.set_blocking(process.stdout.fileno(), False)
        while True:
            data = process.stdout.read()
            if data:
                chunks.append(data)
                size += len(data)
                while size > 4 * keep and len(chunks) > 1:   # keep memory bounded under a print loop
                    size -= len(chunks.pop(0))
            if process.poll() is not None:
                break
            if time.monotonic() - start > self.limits.wall_seconds:
                timed_out = True
                kill_group(process)
                break
            time.sleep(0.05)
        process.wait()
        rest = process.stdout.read() or b""
        output = (b"".join(chunks) + rest)[-keep:].decode("utf-8", "replace")
        return Outcome(process.returncode, timed_out, time.monotonic() - start, output)


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap(uid, seconds=10):
    """Kill whatever still runs as a sandbox's user id, and wait until it is gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = processes_of({uid})
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        for pid in alive:                  # zombies this process adopted (confined.adopt_orphans)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def processes_of(uids):
    """Ids of the processes running as any of `uids`."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in uids:
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def own_processes():
    """Tasks (threads included) the current user already runs: RLIMIT_NPROC counts them all."""
    count = 0
    for pid in processes_of({os.getuid()}):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return count


def read_json_lines(path, max_bytes=1 << 20):
    """The JSON objects of a file a sandbox wrote, one per line. The file is untrusted: beyond `max_bytes`
    nothing is read, and a line that is not a JSON object is skipped (the check that needed it fails closed)."""
    if not os.path.isfile(path) or os.path.getsize(path) > max_bytes:
        return []
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows
