"""The last step before student code, for a sandbox started by root (see sandbox.py).

    python -I launch.py SPEC      SPEC is JSON; its "tier" says which of the two steps runs

bubblewrap: runs in a private mount namespace; binds every source folder under one exposed folder that
the sandbox user can reach (a Python under /root cannot be reached otherwise), sets the resource
limits, becomes that user and starts bubblewrap.

confined (confined.py, where no namespace can be made): sets the resource limits, becomes the dedicated
user, sets no_new_privs, loads a seccomp filter that refuses new sockets other than AF_UNIX and every
namespace or mount call, and starts the command in the box.

It runs with `python -I` before any student code exists in the process, and imports nothing from the
grader: the standard library, and pyseccomp (ctypes bindings of libseccomp) for the filter.
"""
import errno
import json
import os
import resource
import socket
import subprocess
import sys

# The clone() flags that make a namespace: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
# and NEWTIME (linux/sched.h).
CLONE_NEW = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080]
MOUNT_CALLS = ["mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
               "fsmount", "fspick", "mount_setattr"]
NAMESPACE_CALLS = ["unshare", "setns"]
# io_uring can open sockets without socket(); the others reach kernel state shared with the grader.
OTHER_CALLS = ["io_uring_setup", "bpf", "keyctl", "add_key", "request_key", "ptrace", "chroot"]


def set_limits(table):
    for name, value in table.items():          # Sandbox.rlimits(): one table for every path
        resource.setrlimit(getattr(resource, name), (value, value))
    with open("/proc/self/oom_score_adj", "w") as f:   # under memory pressure the kernel kills this first,
        f.write("1000")                                  # not the grader that writes the results


def become(uid, gid):
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("launch.py: still root after setuid; refusing to run student code")


def seccomp_filter():
    """The filter of the confined tier: everything is allowed but what could reach out or make namespaces."""
    import pyseccomp as seccomp
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for call in MOUNT_CALLS + NAMESPACE_CALLS + OTHER_CALLS:
        rules.add_rule(refuse, call)
    for flag in CLONE_NEW:
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")    # its flags cannot be read: libc falls back to clone
    return rules


def bubblewrap(spec):
    expose = spec["expose"]
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", expose], check=True)
    for index, source in enumerate(spec["sources"]):
        target = os.path.join(expose, str(index))
        if os.path.isdir(source):
            os.mkdir(target)
        else:
            open(target, "w").close()
        subprocess.run(["mount", "--bind", source, target], check=True)
    set_limits(spec["rlimits"])
    become(spec["uid"], spec["uid"])
    os.execvp(spec["command"][0], spec["command"])


def confined(spec):
    rules = seccomp_filter()                  # built before the limits, loaded last (it sets no_new_privs)
    set_limits(spec["rlimits"])
    become(spec["uid"], spec["gid"])
    os.umask(0o077)
    os.chdir(spec["cwd"])
    rules.load()
    os.execve(spec["command"][0], spec["command"], spec["environment"])


def main():
    spec = json.loads(sys.argv[1])
    {"bubblewrap": bubblewrap, "confined": confined}[spec["tier"]](spec)


if __name__ == "__main__":
    main()
