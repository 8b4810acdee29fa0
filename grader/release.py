"""The student handout is generated from the instructor's files, so the two can never drift apart.

solutions/model.py marks each answer between `# BEGIN SOLUTION` and `# END SOLUTION`, followed by a
`# STUB: <line>` comment. The handout's hw/model.py is that file with every marked region replaced by
its stub line.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTION_MODEL = os.path.join(ROOT, "solutions", "model.py")
HANDOUT_MODEL = os.path.join(ROOT, "hw", "model.py")
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = re.compile(r"^(\s*)# STUB: (.*)$")


def strip_solutions(text):
    """The handout version of a solution file's text."""
    out, inside = [], False
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution region")
            inside = True
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif inside:
            continue
        elif STUB.match(line):
            indent, code = STUB.match(line).groups()
            out.append(f"{indent}{code}\n")
        else:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} never closed")
    return "".join(out)


def solution_lines(text):
    """The code lines inside solution regions: none of them may appear in the handout."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def write_handout_model(check=False):
    """Regenerate hw/model.py; with check=True only report whether it is up to date. Returns True if in sync."""
    with open(SOLUTION_MODEL) as f:
        expected = strip_solutions(f.read())
    current = open(HANDOUT_MODEL).read() if os.path.exists(HANDOUT_MODEL) else None
    if check:
        return current == expected
    if current != expected:
        with open(HANDOUT_MODEL, "w") as f:
            f.write(expected)
    return True


# What students receive. Everything else (solutions/, grader/, tests/, bench/, built data, runs) stays out.
HANDOUT_FILES = ["requirements.txt", "requirements-onnx.txt", "Makefile"]
HANDOUT_FOLDERS = {"hw": None, "data": (".py", ".md"), "notebooks": (".ipynb",)}
SKIPPED = {"__pycache__", "runs", ".cache", ".pytest_cache", "node_modules"}
RUN_OUTPUTS = (".pt", ".mid", ".midi", ".flac", ".wav", ".npy", ".png", ".pyc")
HANDOUT_README = """# Piano transcription homework

Start with hw/README.md: it is the assignment. Quick start, in this folder:

    make debug     # set up, build the data (3-4 minutes, once), train the baseline for 100 steps
    make test      # set up, then run the self-checks (unanswered questions show as skipped)
"""
HANDOUT_PYTEST_INI = """[pytest]
testpaths = hw/tests
pythonpath = . hw
addopts = -ra
"""


def handout_members(root=ROOT):
    """(path in the zip, path on disk) of every file students get. What runs leave in hw/ (log folders,
    checkpoints, transcriptions) stays out, whoever ran them."""
    members = [(name, os.path.join(root, name)) for name in HANDOUT_FILES]
    for folder, suffixes in HANDOUT_FOLDERS.items():
        for directory, subdirectories, files in os.walk(os.path.join(root, folder)):
            # hw/ goes whole; of data/ and notebooks/ only the top-level files (built data sets are subfolders).
            subdirectories[:] = sorted(d for d in subdirectories
                                       if d not in SKIPPED and (suffixes is None or directory != os.path.join(root, folder)))
            for name in sorted(files):
                if (suffixes is None or name.endswith(suffixes)) and not name.endswith(RUN_OUTPUTS):
                    path = os.path.join(directory, name)
                    members.append((os.path.relpath(path, root), path))
    return members


def build_handout_zip(out):
    """The student handout as a zip; hw/model.py must be up to date with the solutions first."""
    import zipfile
    if not write_handout_model(check=True):
        raise SystemExit("hw/model.py is out of date: run `python -m grader release` first")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in handout_members():
            archive.write(path, os.path.join("piano-transcription-hw", name))
        archive.writestr("piano-transcription-hw/README.md", HANDOUT_README)
        archive.writestr("piano-transcription-hw/pytest.ini", HANDOUT_PYTEST_INI)
    return out
