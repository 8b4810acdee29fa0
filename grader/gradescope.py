"""The Gradescope autograder zip: setup.sh and run_autograder around this same grader.

Gradescope unpacks the zip in /autograder/source, runs setup.sh once when building the image, and for
each submission runs run_autograder with the student's files in /autograder/submission; the results go to
/autograder/results/results.json. AUTOGRADER overrides /autograder, so the bundle can be run on a local
folder laid out the same way.
"""
import os
import zipfile

from .release import ROOT

PACKAGES = "python3 python3-venv python3-pip fluidsynth libfluidsynth3 bubblewrap"
KIT = ["grader", "solutions", "data", "hw", "requirements.txt"]

SETUP = f"""#!/usr/bin/env bash
# Runs once while Gradescope builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -q && apt-get install -y -q --no-install-recommends {PACKAGES}
python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt
# Real crops for the hidden tests' fixed inputs{{data_step_note}}
.venv/bin/python -m data synth --size {{data_size}} --out data/grading --seed 0
"""

RUN = """#!/usr/bin/env bash
# Runs for every submission. Whatever happens, the grader writes results.json.
set -uo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
cd "$AUTOGRADER/source"
PYTHON="$AUTOGRADER/source/.venv/bin/python"
mkdir -p "$AUTOGRADER/results"
"$PYTHON" -m grader grade "$AUTOGRADER/submission" --out "$AUTOGRADER/results/results.json" \\
    --data_path data/grading --metric-check {check}{test_data}
"""


def build_bundle(out, check="none", test_data=None):
    """Write the autograder zip; test_data (a built hidden test set) is packed in when given."""
    data_size = "default" if check != "none" else "tiny"
    note = " (and the train/validation splits the metric check trains on)" if check != "none" else ""
    files = {"setup.sh": SETUP.format(data_step_note=note, data_size=data_size),
             "run_autograder": RUN.format(check=check, test_data=" --test_data data/hidden" if test_data else "")}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        for top in KIT:
            add_tree(archive, os.path.join(ROOT, top), top)
        if test_data:
            add_tree(archive, test_data, "data/hidden", skip_cache=True)
    return out


def add_tree(archive, path, name, skip_cache=False):
    if os.path.isfile(path):
        archive.write(path, name)
        return
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "runs") and not d.startswith("."))
        if name == "data" and folder == path:
            dirs[:] = []             # the builder's code only, not the data sets built beside it
        for file in sorted(files):
            if file.endswith((".pyc", ".part")):
                continue
            full = os.path.join(folder, file)
            archive.write(full, os.path.join(name, os.path.relpath(full, path)))
