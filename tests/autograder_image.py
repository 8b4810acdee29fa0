"""An autograder folder laid out as Gradescope lays out /autograder, set up by the bundle's own setup.sh, and
run_autograder run on a submission in it: for tests/test_gradescope.py and bench/gradescope.py.

Both run as root, as Gradescope runs them, and inside tests/docker_like.py's confinement when `confined`
(as in Gradescope's container, where bubblewrap cannot create namespaces).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER_LIKE = [sys.executable, os.path.join(ROOT, "tests", "docker_like.py")]


def build_image(time_limit=60):
    """A new folder with source/ (the bundle built with `time_limit` seconds for each model's hidden tests),
    venv/ and setup-finished, made by setup.sh in a Docker-like confinement; raises RuntimeError with the end
    of setup's output when it fails."""
    folder = tempfile.mkdtemp(prefix="autograder-")   # not under a 0700 folder: the sandbox user passes
    os.chmod(folder, 0o755)                           # through it to the environment
    bundle = os.path.join(folder, "autograder.zip")
    subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", "--out", bundle, "--time_limit",
                    str(time_limit)], cwd=ROOT, check=True, capture_output=True)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(os.path.join(folder, "source"))
    os.unlink(bundle)
    setup = subprocess.run(DOCKER_LIKE + ["bash", os.path.join(folder, "source", "setup.sh")],
                           env=dict(os.environ, AUTOGRADER=folder), capture_output=True, text=True)
    if setup.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"setup.sh failed ({setup.returncode}):\n{setup.stdout[-3000:]}\n{setup.stderr[-3000:]}")
    return folder


def autograder_command(image, confined=True):
    command = ["bash", os.path.join(image, "source", "run_autograder")]
    return (DOCKER_LIKE if confined else []) + command


def put_submission(image, model_py_text):
    submission = os.path.join(image, "submission")
    shutil.rmtree(submission, ignore_errors=True)
    os.makedirs(submission)
    with open(os.path.join(submission, "model.py"), "w") as f:
        f.write(model_py_text)


def read_results(image):
    with open(os.path.join(image, "results", "results.json")) as f:
        return json.load(f)
