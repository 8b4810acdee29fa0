"""The Gradescope autograder zip: setup.sh and run_autograder around this same grader.

Gradescope unpacks the zip in /autograder/source and runs setup.sh once, as root, when it builds the
autograder image; for each submission it runs run_autograder, as root, with the student's files in
/autograder/submission, and shows /autograder/results/results.json. AUTOGRADER overrides /autograder, so
the bundle can be run on a local folder laid out the same way.

Gradescope's container cannot create namespaces, so there the grader isolates student code with its
confined-container tier (confined.py), which setup.sh prepares: the dedicated user, a Python
environment outside the source folder that this user may run, and the source folder closed to it
(root, 0700). run_autograder writes results.json whatever happens: when setup did not finish or the
grader itself fails, a grader error out of the full score.
"""
import os
import re
import zipfile

from .grade import full_score
from .hidden_tests import GRADED_MODELS
from .confined import CREATE_USER, USER
from .release import ROOT, SKIPPED, handout_members

KIT = ["grader", "solutions"]      # beside these, the handout's hw/, data builder and requirements.txt
FROM_HANDOUT = ("hw/", "data/", "requirements.txt")
# Never used to grade: the browser page and the pretrained transcriber (45 MB of zip once the page is set up).
NOT_GRADED = ("hw/web/", "hw/pretrained/")


def system_packages():
    """The Makefile's system packages and the grader's (one list for both), and what the bundle needs beside them."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        makefile = f.read()
    listed = [package for name in ("SYSTEM_PACKAGES", "GRADER_PACKAGES")
              for package in re.search(rf"^{name} := (.+)$", makefile, re.M).group(1).split()]
    return " ".join(["python3", "python3-venv", "libseccomp2", "passwd"] + listed)


SETUP = """#!/usr/bin/env bash
# Runs once, as root, while Gradescope builds the autograder image.
set -euo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
SOURCE="$AUTOGRADER/source"
cd "$SOURCE"
rm -f "$AUTOGRADER/setup-finished"
apt-get update -q && apt-get install -y -q --no-install-recommends {packages}
# The environment lives beside the source folder, not in it: where bubblewrap cannot create namespaces
# (Gradescope's container), student code runs as {user} with this Python, and the source folder
# (solutions, grader, hidden tests) is closed to that user. Debian's Python, which every user may run.
/usr/bin/python3 -m venv "$AUTOGRADER/venv"
"$AUTOGRADER/venv/bin/pip" install -q -r requirements.txt
# The sampled grand the data builder plays comes from the npm registry.
command -v npm >/dev/null || apt-get install -y -q --no-install-recommends npm
"$AUTOGRADER/venv/bin/python" -m data samples
# Real crops for the hidden tests' fixed inputs{data_note}
"$AUTOGRADER/venv/bin/python" -m data synth --size {data_size} --out data/grading --seed 0
id -u {user} >/dev/null 2>&1 || {create_user}
chown -R root:root "$SOURCE"
chmod -R go-w "$SOURCE"
chmod 700 "$SOURCE"
chmod o+x "$AUTOGRADER"            # the sandbox user may pass through to the environment, not list
touch "$AUTOGRADER/setup-finished"
"""

RUN = """#!/usr/bin/env bash
# Runs for every submission, as root. Whatever happens, results.json is written.
set -uo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
RESULTS="$AUTOGRADER/results/results.json"
mkdir -p "$AUTOGRADER/results"
rm -f "$RESULTS"
if [ ! -f "$AUTOGRADER/setup-finished" ]; then
    problem="setup.sh did not finish when the autograder was built"
elif ! cd "$AUTOGRADER/source"; then
    problem="the autograder's source folder is missing"
else
    "$AUTOGRADER/venv/bin/python" -m grader grade "$AUTOGRADER/submission" --out "$RESULTS" \\
        --data_path data/grading --metric-check {check} --time_limit {time_limit}{test_data}
    problem="the grader stopped with exit status $?"
fi
if [ ! -s "$RESULTS" ]; then
    message="Not graded: $problem. This is not a fault of your submission: tell the course staff."
    printf '{{"score": 0, "output": "%s", "visibility": "visible", "stdout_visibility": "visible", "tests": [{{"name": "grader error", "score": 0, "max_score": {full}, "output": "%s"}}]}}\\n' \\
        "$message" "$message" > "$RESULTS"
fi
"""


def build_bundle(out, check="none", test_data=None, time_limit=60):
    """Write the autograder zip; test_data (a built hidden test set) is packed in when given; time_limit:
    seconds for each model's hidden tests."""
    data_size = "default" if check != "none" else "tiny"
    note = " (and the train/validation splits the metric check trains on)" if check != "none" else ""
    files = {"setup.sh": SETUP.format(packages=system_packages(), user=USER, create_user=CREATE_USER,
                                      data_note=note, data_size=data_size),
             "run_autograder": RUN.format(check=check, time_limit=int(time_limit),
                                          test_data=" --test_data data/hidden" if test_data else "",
                                          full=full_score(GRADED_MODELS, check))}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        for top in KIT:
            add_tree(archive, os.path.join(ROOT, top), top)
        for name, path in handout_members():      # as students get them: no checkpoints or other run outputs
            if name.startswith(FROM_HANDOUT) and not name.startswith(NOT_GRADED):
                archive.write(path, name)
        if test_data:
            add_tree(archive, test_data, "data/hidden")
    return out


def add_tree(archive, path, name):
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        for file in sorted(files):
            if not file.endswith((".pyc", ".part")):
                full = os.path.join(folder, file)
                archive.write(full, os.path.join(name, os.path.relpath(full, path)))
