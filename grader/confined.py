"""The second isolation tier, for confined containers where bubblewrap cannot create namespaces.

Gradescope runs its autograder as root in a Docker container whose default seccomp profile refuses the
calls that make namespaces, so bubblewrap cannot start there. Without namespaces nothing can hide the
container's files from a process, so this tier keeps student code out with ownership instead:

- the code runs as a dedicated unprivileged user (USER, made by the bundle's setup.sh), never root,
  with no_new_privs and a seccomp filter of its own (launch.py: no sockets but AF_UNIX, no namespace
  or mount calls), and the same resource limits and wall-clock timeout as under bubblewrap;
- it sees only the files the grader hands it: a fresh box folder holds hard links or copies of the
  read-only inputs (owned by root, not writable by that user) and copies of the writable folders (owned
  by that user); its working folder, HOME and TMPDIR are the box's own `tmp`;
- the grader's source folder (solutions, grader, hidden tests) is owned by root with mode 0700, so no
  path leads the user into it; the grader's own work folders are 0700 too;
- afterwards every process of the user is killed (the grader adopts the orphans of its sandboxes, so
  their zombies are reaped even where the container's first process reaps nothing), the writable folders come back holding only regular
  files and folders (no links that would lead the grader elsewhere), and whatever the user left in the
  world-writable folders (/tmp, /var/tmp, /dev/shm, ...) is deleted.

One user means one sandbox at a time (a lock), so the process limit and the cleanup count only its own
processes. A box exists only while its session holds the lock; a grader killed in the middle of a session
leaves its box behind, and the next session, holding the lock, removes every box it finds but its own.
"""
import ctypes
import fcntl
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from contextlib import contextmanager

USER = "grader-student"
BOXES = os.path.join(tempfile.gettempdir(), "grader-boxes")   # root-owned, 0711: one box per sandbox
WORLD_WRITABLE = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"]
CREATE_USER = f"useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {USER}"


class ConfinedUnavailable(RuntimeError):
    pass


def sandbox_user():
    """(uid, gid) of the dedicated user, or ConfinedUnavailable saying how to create it."""
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        raise ConfinedUnavailable(f"the dedicated user {USER} does not exist (the bundle's setup.sh creates it): "
                                  f"run `{CREATE_USER}` as root") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ConfinedUnavailable(f"the user {USER} has uid or gid 0: it must be an unprivileged user")
    return entry.pw_uid, entry.pw_gid


def adopt_orphans():
    """Make this process the child subreaper of what it starts: orphans come to it, not to PID 1."""
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def boxes_folder():
    """The folder holding the boxes: made here by root, or refused if someone else made it."""
    try:
        os.mkdir(BOXES, 0o711)
    except FileExistsError:
        pass
    info = os.lstat(BOXES)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise ConfinedUnavailable(f"{BOXES} is not a folder that only root can write: remove it and grade again")
    os.chmod(BOXES, 0o711)
    return BOXES


class Box:
    """One sandbox's folder: `path(name)` is where a bound input appears to the student code."""

    def __init__(self):
        self.uid, self.gid = sandbox_user()
        self.root = os.path.join(boxes_folder(), f"box-{secrets.token_hex(8)}")     # made by session()
        self.scratch = os.path.join(self.root, "tmp")

    def path(self, name):
        return os.path.join(self.root, name)

    @contextmanager
    def session(self, binds, stop_processes):
        """Hold the user's lock, fill the box, and afterwards clean up and copy the writable folders back.
        `stop_processes()` kills every process of the user: first thing, so nothing of an earlier grading
        counts, interferes or still writes into a stale box while it is removed."""
        lock = os.open(boxes_folder(), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stop_processes()
            remove_stale_boxes()
            try:
                os.mkdir(self.root, 0o755)
                os.chmod(self.root, 0o755)            # whatever the umask
                self.fill(binds)
                try:
                    yield
                finally:
                    self.empty(binds)
            finally:
                shutil.rmtree(self.root, ignore_errors=True)
        finally:
            os.close(lock)

    def fill(self, binds):
        os.mkdir(self.scratch)
        self.own(self.scratch)
        for host, inside, writable in binds:     # in order: a later bind may land inside an earlier one
            if writable:
                copy(host, inside, link=False)
                self.own(inside)
            else:
                copy(host, inside, link=True)

    def own(self, path):
        for folder, dirs, files in os.walk(path):
            for entry in [folder] + [os.path.join(folder, f) for f in files]:
                os.lchown(entry, self.uid, self.gid)

    def empty(self, binds):
        """After the run (every process of the user already killed): bring the writable folders back."""
        for host, inside, writable in binds:
            if writable and os.path.isdir(inside):
                disarm(inside)
                shutil.copytree(inside, host, dirs_exist_ok=True)
        remove_leftovers(self.uid)


def remove_stale_boxes():
    """Delete the boxes of sessions that ended without cleaning up (the grader was killed). Only call it
    holding the lock: no other session is running then, so every box found is stale."""
    for name in os.listdir(BOXES):
        path = os.path.join(BOXES, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def copy(host, inside, link):
    """Put `host` at `inside`: root-owned and read-only to others; hard-linked where that is safe."""
    os.makedirs(os.path.dirname(inside), exist_ok=True)
    if os.path.isdir(host):
        for folder, dirs, files in os.walk(host):
            target = os.path.join(inside, os.path.relpath(folder, host))
            os.makedirs(target, exist_ok=True)
            os.chmod(target, 0o755)
            for name in files:
                copy_file(os.path.join(folder, name), os.path.join(target, name), link)
    else:
        copy_file(host, inside, link)


def copy_file(source, target, link):
    if os.path.lexists(target):
        os.unlink(target)
    info = os.stat(source)
    # A hard link shares the file's owner and mode: only a root-owned file that others may read but not
    # write can be shared so (and only on the same file system).
    if link and info.st_uid == 0 and info.st_mode & 0o004 and not info.st_mode & 0o022:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)


def disarm(folder):
    """Delete everything under `folder` that is not a regular file or folder (links, fifos, devices)."""
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(parent, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                os.unlink(path)
                if name in dirs:
                    dirs.remove(name)


def remove_leftovers(uid, roots=WORLD_WRITABLE):
    """Delete what `uid` made in the world-writable folders. Only folders it could write are searched."""
    for root in roots:
        pending = [root] if os.path.isdir(root) and not os.path.islink(root) else []
        while pending:
            folder = pending.pop()
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid == uid:
                    if stat.S_ISDIR(info.st_mode):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002:
                    pending.append(path)
