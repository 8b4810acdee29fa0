"""Second stage of a sandbox started by root (see sandbox.py); runs in a private mount namespace.

It binds every source folder under one exposed folder that the sandbox user can reach (a Python under
/root cannot be reached otherwise), sets the resource limits, becomes that user and starts bubblewrap.
Standard library only: it runs with `python -I` before any student code exists in the process.
"""
import json
import os
import resource
import subprocess
import sys


def main():
    spec = json.loads(sys.argv[1])
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
    for name, value in spec["rlimits"].items():          # Sandbox.rlimits(): one table for both paths
        resource.setrlimit(getattr(resource, name), (value, value))
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
    os.execvp(spec["command"][0], spec["command"])


if __name__ == "__main__":
    main()
