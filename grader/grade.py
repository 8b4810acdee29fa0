"""Grade one submission: hidden tests, an optional metric check, and the checkpoint's leaderboard scores.

The result is Gradescope's results.json (https://gradescope-autograders.readthedocs.io, "Autograder
Specifications"): tests with score, max_score, output and visibility, and leaderboard entries for note F1
and frame F1 on the public part of the hidden test set. The private part's scores go into one test with
visibility "hidden", which Gradescope never shows to students; `python -m grader board post` reads them
from there. Whatever fails, a results.json is written: a failure scores zero with its reason, out of the assignment's
full score, so that grade books compute a percentage. results.json and the report name the isolation
tier that ran the student code (sandbox.py).
"""
import json
import os
import shutil
import tempfile
import time

from . import hidden_tests
from .metric_check import POINTS as METRIC_CHECK_POINTS
from .metric_check import metric_check
from .scores import checkpoint_results
from .sandbox import TIER_NAMES, UNSAFE, SandboxUnavailable, isolation_tier
from .submission import SubmissionError, unpack
from .test_set import CheckpointError, score_checkpoint

GRADER_VERSION = "1.0"


def grade(source, data_path, test_data=None, check="none", unsafe=False, models=None, keep=None, time_limit=60,
          device="cpu"):
    """results.json's content for one submission (a folder, zip or model.py); `device` runs the metric
    check's training (cpu, or cuda on a GPU machine)."""
    started = time.monotonic()
    models = models or hidden_tests.GRADED_MODELS
    work = tempfile.mkdtemp(prefix="grade-")
    results = {"score": 0.0, "tests": [], "leaderboard": [], "visibility": "visible",
               "stdout_visibility": "hidden", "grader_version": GRADER_VERSION}
    notes = []
    try:
        tier = UNSAFE if unsafe else isolation_tier()
        results["isolation"] = tier
        notes.append(f"isolation: {TIER_NAMES[tier]}")
        submission = unpack(source, os.path.join(work, "submission"))
        notes += submission.notes
        tests, probe_notes = hidden_tests.hidden_tests(submission.model_py, work, data_path, unsafe, models,
                                                       hidden_tests.probe_limits(time_limit))
        results["tests"] += tests
        notes += probe_notes
        handout = hidden_tests.handout_copy(work)
        if check != "none":
            for model_type in models:
                results["tests"].append(metric_check(check, model_type, handout, work, data_path, unsafe,
                                                     device=device))
        if submission.checkpoint and test_data:
            try:
                scores = score_checkpoint(submission.checkpoint, handout, work, test_data, unsafe)
                leaderboard, tests = checkpoint_results(scores)
                results["leaderboard"] = leaderboard
                results["tests"] += tests
            except CheckpointError as error:
                results["tests"].append({"name": "checkpoint on the hidden test set", "score": 0.0,
                                         "max_score": 0.0, "output": f"not scored: {error}"})
        elif submission.checkpoint:
            notes.append("model.pt was not scored: no hidden test set was given (--test_data)")
    except SubmissionError as error:
        results["tests"].append(unscored("submission", str(error), results["tests"], models, check))
        notes.append(str(error))
    except SandboxUnavailable as error:        # the machine's fault, never the student's: no test is marked failed
        results["tests"].append(unscored("grader error", f"not graded: {error}. This is not a fault of the "
                                         "submission: tell the course staff", results["tests"], models, check))
        notes.append(f"grader error: {error}")
    except Exception as error:                 # a grader fault must still leave a results.json
        results["tests"].append(unscored("grader error", f"the grader failed ({type(error).__name__}: {error}); "
                                         "tell the course staff", results["tests"], models, check))
        notes.append(f"grader error: {type(error).__name__}: {error}")
    finally:
        if keep:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    for test in results["tests"]:
        test["score"] = round(float(test["score"]), 4)
        test.setdefault("visibility", "visible")
        test.pop("metrics", None)
        test.pop("model", None)
        test.pop("check", None)
    results["score"] = round(sum(t["score"] for t in results["tests"]), 4)
    results["execution_time"] = round(time.monotonic() - started, 1)
    results["output"] = summary(results, notes)
    return results


def full_score(models, check):
    """The points of a grading of `models` (hidden tests, and the metric check unless it is "none")."""
    points = sum(hidden_tests.POINTS[c] for m in models for c in hidden_tests.checks_for(m))
    return points + (METRIC_CHECK_POINTS * len(models) if check != "none" else 0)


def unscored(name, output, tests, models, check):
    """A zero-score test carrying the points that `tests` have not yet given, with the reason."""
    remaining = full_score(models, check) - sum(t["max_score"] for t in tests)
    return {"name": name, "score": 0.0, "max_score": max(remaining, 0), "output": output}


def summary(results, notes):
    """The readable report students see (never the private scores)."""
    total = sum(t["max_score"] for t in results["tests"])
    lines = [f"Score: {results['score']:g} / {total:g}", ""]
    for test in results["tests"]:
        if test.get("visibility") == "hidden":
            continue
        mark = "PASS" if test["max_score"] and test["score"] == test["max_score"] else (
            "----" if not test["max_score"] else "ERROR" if test["name"] == "grader error" else "FAIL")
        points = f"{test['score']:g}/{test['max_score']:g}" if test["max_score"] else ""
        lines.append(f"[{mark}] {points:>5} {test['name']}: {test['output']}")
    if results["leaderboard"]:
        lines += ["", "Leaderboard (public part of the hidden test set): " +
                  ", ".join(f"{e['name']} {e['value']:.4f}" for e in results["leaderboard"])]
    if notes:
        lines += [""] + [f"note: {n}" for n in notes]
    return "\n".join(lines)


def write_results(results, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".part", "w") as f:
        json.dump(results, f, indent=1)
    os.replace(path + ".part", path)
