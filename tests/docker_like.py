"""Run a command confined the way Docker's defaults confine a container, for the tests of the grader's
second isolation tier:

    python tests/docker_like.py COMMAND [ARG ...]

- Docker's default seccomp profile, in the part that matters here: unshare, setns and the mount calls
  fail with EPERM, so does clone() with any namespace flag, and clone3() fails with ENOSYS (so libc falls
  back to clone). bubblewrap then stops with "Creating new namespace failed" or "No permissions to
  create new namespace", as in a Gradescope container.
- Docker's default capabilities: root keeps only CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW,
  SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL and AUDIT_WRITE (no SYS_ADMIN).

Like Docker it does not set no_new_privs. Needs root (a filter without no_new_privs needs CAP_SYS_ADMIN).
"""
import ctypes
import errno
import os
import sys

import pyseccomp as seccomp

DOCKER_CAPABILITIES = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}     # linux/capability.h numbers
PR_CAPBSET_DROP = 24
NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80]


def docker_default_filter():
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.CTL_NNP, 0)
    for call in ["unshare", "setns", "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
                 "fsmount", "fsconfig", "fspick", "mount_setattr"]:
        rules.add_rule(refuse, call)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


def main(argv):
    if not argv:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("docker_like.py must run as root, as Docker runs a container's root")
    docker_default_filter().load()
    libc = ctypes.CDLL(None, use_errno=True)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for capability in range(last + 1):
        if capability not in DOCKER_CAPABILITIES and libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            sys.exit(f"could not drop capability {capability}: {os.strerror(ctypes.get_errno())}")
    os.execvp(argv[0], argv)          # root's capabilities shrink to the bounding set at exec


if __name__ == "__main__":
    main(sys.argv[1:])
