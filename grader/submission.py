"""A student's submission, unpacked into a private folder and checked before anything runs.

A submission is a folder or a zip holding model.py, and optionally model.pt (a train.py checkpoint) and
the log folder of the run that made it. Files may sit at the top or in one folder below it (zips made by
compressing a folder). Nothing from it is imported or unpickled here.
"""
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field

MAX_MODEL_PY = 1 << 20            # bytes
MAX_CHECKPOINT = 200 << 20
MAX_LOG_FILE = 4 << 20
MAX_UNPACKED = 512 << 20
MAX_FILES = 2000


class SubmissionError(Exception):
    """The submission cannot be graded; the message says why and what to submit instead."""


@dataclass
class Submission:
    folder: str                            # the private copy
    model_py: str
    checkpoint: str = None
    log_folder: str = None
    notes: list = field(default_factory=list)


def unpack(source, folder):
    """Copy (or safely extract) a submission into `folder` and find its parts."""
    os.makedirs(folder, exist_ok=True)
    if os.path.isdir(source):
        copy_tree(source, folder)
    elif zipfile.is_zipfile(source):
        extract_zip(source, folder)
    elif os.path.isfile(source) and source.endswith(".py"):
        shutil.copyfile(source, os.path.join(folder, "model.py"))
    else:
        raise SubmissionError(f"{source} is neither a folder, a zip nor a .py file: submit model.py "
                              "(with model.pt and your log folder if you have them), as files or one zip")
    return find_parts(folder)


def copy_tree(source, folder):
    total, count = 0, 0
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue                       # links could point anywhere on the grading machine
            count += 1
            total += os.path.getsize(path)
            check_totals(total, count)
            target = os.path.join(folder, os.path.relpath(path, source))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(path, target)


def extract_zip(source, folder):
    with zipfile.ZipFile(source) as archive:
        entries = archive.infolist()
        check_totals(sum(e.file_size for e in entries), len(entries))
        root = os.path.realpath(folder)
        for entry in entries:
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode) or entry.is_dir():
                continue
            target = os.path.realpath(os.path.join(folder, entry.filename))
            if not target.startswith(root + os.sep):
                raise SubmissionError(f"the zip holds a path outside its folder ({entry.filename!r}); "
                                      "zip your files again without absolute or '..' paths")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(entry) as src, open(target, "wb") as dst:
                written = 0
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > entry.file_size or written > MAX_UNPACKED:
                        raise SubmissionError("the zip's sizes do not match its contents; zip your files again")
                    dst.write(chunk)


def check_totals(total, count):
    if total > MAX_UNPACKED:
        raise SubmissionError(f"the submission holds {total >> 20} MiB, more than the {MAX_UNPACKED >> 20} MiB "
                              "allowed: submit model.py, one checkpoint and the log folder only")
    if count > MAX_FILES:
        raise SubmissionError(f"the submission holds {count} files, more than {MAX_FILES}: submit model.py, "
                              "one checkpoint and the log folder only")


def find_parts(folder):
    """model.py at the top or in the one folder below; model.pt beside it; a folder with metrics.jsonl."""
    candidates = sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, files in os.walk(folder)
                        for f in files if f == "model.py" and "__MACOSX" not in r)
    shallow = [c for c in candidates if c.count(os.sep) <= 1]
    if not shallow:
        raise SubmissionError("no model.py in the submission: submit your hw/model.py (the whole file)")
    if len(shallow) > 1:
        raise SubmissionError(f"several model.py files ({', '.join(shallow)}): submit exactly one")
    model_py = os.path.join(folder, shallow[0])
    if os.path.getsize(model_py) > MAX_MODEL_PY:
        raise SubmissionError(f"model.py is {os.path.getsize(model_py) >> 10} KiB, more than "
                              f"{MAX_MODEL_PY >> 10} KiB: submit the handout's model.py with your answers")
    submission = Submission(folder, model_py)
    base = os.path.dirname(model_py)
    checkpoints = sorted(os.path.join(r, f) for r, _, files in os.walk(base) for f in files if f.endswith(".pt"))
    named = [c for c in checkpoints if os.path.basename(c) == "model.pt"]
    if named or len(checkpoints) == 1:
        submission.checkpoint = (named or checkpoints)[0]
        if os.path.getsize(submission.checkpoint) > MAX_CHECKPOINT:
            submission.notes.append(f"{os.path.basename(submission.checkpoint)} is larger than "
                                    f"{MAX_CHECKPOINT >> 20} MiB and was not evaluated")
            submission.checkpoint = None
    elif checkpoints:
        submission.notes.append(f"{len(checkpoints)} checkpoints and none named model.pt: none was evaluated "
                                "(name the one to grade model.pt)")
    logs = sorted(r for r, _, files in os.walk(base) if "metrics.jsonl" in files)
    if logs:
        submission.log_folder = logs[0]
    return submission
