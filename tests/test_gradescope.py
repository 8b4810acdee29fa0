"""The Gradescope bundle as Gradescope runs it: setup.sh once, then run_autograder for each submission,
as root, inside a container where bubblewrap cannot create namespaces (tests/docker_like.py confines
these processes as Docker's default profile does), and beside it on a machine where bubblewrap works.
Real submissions: the solutions, a common mistake, hostile code."""
import hashlib
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid

import pytest

from grader.confined import BOXES, USER, WORLD_WRITABLE
from grader.sandbox import bubblewrap_available, processes_of
from autograder_image import DOCKER_LIKE, autograder_command, build_image, put_submission, read_results
from submissions import HOSTILE, MISTAKES, ROOT, hostile_text, solution_text, write_submission

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not bubblewrap_available(),
                                reason="runs the bundle as Gradescope does: as root, with bubblewrap installed")
TIME_LIMIT = 20                        # seconds for each model's hidden tests, as in test_grader.LIMITS
# What each attack gets in the confined tier (under bubblewrap: test_grader.BUBBLEWRAP_REASONS).
CONFINED_REASONS = {"fork bomb": f"time limit of {TIME_LIMIT} s", "memory bomb": "MemoryError",
                    "socket": "Operation not permitted", "reads the solutions": "Permission denied",
                    "reads the grader": "Permission denied", "writes outside its folder": "Permission denied",
                    "overwrites the handout": "Permission denied"}
# Three submissions, an attack in each model (the models are probed one after another).
ATTACKS = [{"rnn": "socket", "crnn": "reads the solutions", "onf": "writes outside its folder"},
           {"rnn": "fork bomb", "crnn": "memory bomb", "onf": "overwrites the handout"},
           {"rnn": "reads the grader"}]


@pytest.fixture(scope="module")
def image():
    """An autograder folder after the bundle's setup.sh ran, as root, confined like a Docker build."""
    folder = build_image(TIME_LIMIT)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def autograde(image, text, confined=True):
    """Put `text` in /autograder/submission as model.py and run run_autograder; returns results.json."""
    put_submission(image, text)
    run = subprocess.run(autograder_command(image, confined), env=dict(os.environ, AUTOGRADER=image),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return read_results(image)


def by_model(results):
    """{model type: {check title: test}} from the report's test names ("Q1 rnn: builds ...")."""
    models = {}
    for test in results["tests"]:
        head, _, title = test["name"].partition(": ")
        if " " in head:
            models.setdefault(head.split()[1], {})[title] = test
    return models


def owned_by_sandbox_user(roots):
    uid = int(subprocess.run(["id", "-u", USER], capture_output=True, text=True, check=True).stdout)
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            found += [os.path.join(folder, n) for n in dirs + files if os.lstat(os.path.join(folder, n)).st_uid == uid]
    return found, uid


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:                    # it ended meanwhile
        return ""


def test_the_docker_like_confinement_stops_bubblewrap_as_in_a_container():
    command = ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"]
    assert subprocess.run(command, capture_output=True).returncode == 0
    confined = subprocess.run(DOCKER_LIKE + command, capture_output=True, text=True)
    assert confined.returncode != 0 and "namespace" in confined.stderr, confined.stderr
    status = subprocess.run(DOCKER_LIKE + ["grep", "-E", "^(Seccomp|CapEff):", "/proc/self/status"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert status[status.index("Seccomp:") + 1] == "2"
    assert not int(status[status.index("CapEff:") + 1], 16) & (1 << 21)        # no CAP_SYS_ADMIN


def test_setup_closes_the_source_folder_to_the_sandbox_user(image):
    source = os.stat(os.path.join(image, "source"))
    assert source.st_uid == 0 and stat.S_IMODE(source.st_mode) == 0o700
    as_user = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", "--"]
    read = subprocess.run(as_user + [os.path.join(image, "venv", "bin", "python"), "-c",
                                     f"open({os.path.join(image, 'source', 'solutions', 'model.py')!r})"],
                          capture_output=True, text=True)
    assert read.returncode != 0 and "PermissionError" in read.stderr, read.stderr       # Python runs; solutions don't open
    # The image holds what grading uses: not the kit's test tools, the web page or the pretrained transcriber.
    installed = subprocess.run([os.path.join(image, "venv", "bin", "python"), "-m", "pip", "list", "--format=freeze"],
                               capture_output=True, text=True, check=True).stdout.lower()
    assert "torch==" in installed and "pytest==" in installed and "playwright" not in installed
    assert not os.path.exists(os.path.join(image, "source", "hw", "web"))
    assert not os.path.exists(os.path.join(image, "source", "hw", "pretrained"))


def test_solutions_get_full_marks_in_the_confined_tier(image):
    results = autograde(image, solution_text())
    assert results["isolation"] == "confined", results["output"]
    assert results["score"] == 31 and all(t["score"] == t["max_score"] for t in results["tests"]), results["output"]
    assert "isolation: confined" in results["output"]


def test_a_mistake_gets_the_same_partial_credit_in_both_tiers(image):
    """Each test gets the same score and message in both tiers: the mistaken model loses its points, the
    other two keep full marks (the solutions alone under bubblewrap: test_grader.py)."""
    model_type, text, failing, phrase = MISTAKES["swapped outputs"]
    confined, plain = (autograde(image, text(), c) for c in (True, False))
    assert (confined["isolation"], plain["isolation"]) == ("confined", "bubblewrap")
    assert "isolation: bubblewrap" in plain["output"]
    assert [(t["name"], t["score"], t["output"]) for t in confined["tests"]] == \
           [(t["name"], t["score"], t["output"]) for t in plain["tests"]]
    lost = [title for title, t in by_model(confined)[model_type].items() if t["score"] < t["max_score"]]
    assert len(lost) == len(failing) and phrase in confined["output"] and confined["score"] == 31 - 3


@pytest.mark.parametrize("attacks", ATTACKS, ids=[", ".join(a.values()) for a in ATTACKS])
def test_hostile_code_is_contained_in_the_confined_tier(image, attacks):
    source = os.path.join(image, "source")
    handout = os.path.join(source, "hw", "dataset.py")
    before = hashlib.sha256(open(handout, "rb").read()).hexdigest()
    text = solution_text()
    for model_type, attack in attacks.items():
        text = hostile_text(HOSTILE[attack][1], model_type, root=source, text=text)
    results = autograde(image, text)
    assert results["isolation"] == "confined"
    for model_type, tests in by_model(results).items():
        if model_type in attacks:
            reason = CONFINED_REASONS[attacks[model_type]]
            assert all(t["score"] == 0 for t in tests.values()), results["output"]
            assert reason in tests["builds with (cnn_unit, fc_unit)"]["output"], results["output"]
        else:
            assert all(t["score"] == t["max_score"] for t in tests.values()), results["output"]
    assert "BEGIN SOLUTION" not in results["output"] and "def judge_" not in results["output"]
    assert not os.path.exists(os.path.join(source, "grader", "owned.py"))
    assert hashlib.sha256(open(handout, "rb").read()).hexdigest() == before
    left, uid = owned_by_sandbox_user(WORLD_WRITABLE + [image])
    assert not left and not processes_of({uid}), left


def test_what_the_student_code_leaves_behind_is_removed(image):
    """A file in /tmp and a link in its output folder, planted for the grader to follow, are gone after the
    run; the model still grades (neither is an error)."""
    marker = f"/tmp/left-behind-{uuid.uuid4().hex}"
    code = (f"import os, sys\nopen({marker!r}, 'w').write('x')\nlink = os.path.join(sys.argv[-1], 'results-link.jsonl')\n"
            f"if not os.path.lexists(link):\n    os.symlink({os.path.join(image, 'source', 'solutions', 'model.py')!r}, link)\n")
    results = autograde(image, hostile_text(code, "rnn", root=os.path.join(image, "source")))
    assert results["score"] == 31, results["output"]
    assert not os.path.exists(marker)
    left, uid = owned_by_sandbox_user(WORLD_WRITABLE + [image])
    assert not left, left


def test_a_grader_killed_mid_run_leaves_nothing_after_the_next_grading(image):
    """The grader is killed while student code runs (a cancelled job, a stopped machine): its box and the
    student's process outlive it. The next grading stops that process, removes the box and grades as usual."""
    put_submission(image, hostile_text(HOSTILE["infinite loop"][1], "rnn", root=os.path.join(image, "source")))
    grader = subprocess.Popen(autograder_command(image), env=dict(os.environ, AUTOGRADER=image),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _, uid = owned_by_sandbox_user([])
    deadline = time.monotonic() + 300
    while not any("probe.py" in command_line(pid) for pid in processes_of({uid})):
        assert grader.poll() is None and time.monotonic() < deadline, "the probe of the looping model never started"
        time.sleep(0.2)
    os.killpg(grader.pid, signal.SIGKILL)         # the grader's group: not the student code, a session of its own
    grader.wait()
    left, _ = owned_by_sandbox_user([BOXES])
    assert left and processes_of({uid})            # what a killed grader leaves

    results = autograde(image, solution_text())
    assert results["score"] == 31, results["output"]
    left, _ = owned_by_sandbox_user(WORLD_WRITABLE + [image])
    assert not left and not processes_of({uid}) and not os.listdir(BOXES), left


def test_links_in_the_writable_folder_never_reach_the_grader_in_either_tier(image, tmp_path):
    """Sandbox.run directly: the command plants a link and a file in its writable folder; afterwards the
    grader's copy holds the file and no link."""
    script = """
import json, os, sys
from grader.sandbox import Limits, Sandbox
out = sys.argv[1]
box = Sandbox(limits=Limits(wall_seconds=60))
inside = box.writable(out, "out")
plant = f"import os; os.symlink('/etc/shadow', '{inside}/link'); open('{inside}/file', 'w').write('ok')"
outcome = box.run([sys.executable, "-c", plant], cwd=box.scratch)
print(json.dumps({"tier": box.tier, "ok": outcome.ok, "output": outcome.output, "names": sorted(os.listdir(out)),
                  "file": open(os.path.join(out, "file")).read()}))
"""
    python = os.path.join(image, "venv", "bin", "python")
    for confined, tier in [(True, "confined"), (False, "bubblewrap")]:
        out = tempfile.mkdtemp(dir=tmp_path)
        run = subprocess.run((DOCKER_LIKE if confined else []) + [python, "-c", script, out], cwd=ROOT,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout.splitlines()[-1])
        assert seen["tier"] == tier and seen["ok"], seen
        assert seen["names"] == ["file"] and seen["file"] == "ok", seen


def test_when_no_tier_can_run_it_is_a_grader_error_out_of_the_full_score(image):
    # Not root, and no namespaces: neither tier can run.
    out = pathlib.Path(tempfile.mkdtemp(prefix="not-root-"))         # a folder the user nobody can write
    os.chmod(out, 0o777)
    folder = write_submission(str(out / "sub"), solution_text())
    # The grader runs from a copy the user can read: the clone may sit in a folder only root can enter.
    code = out / "code"
    shutil.copytree(os.path.join(ROOT, "grader"), code / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    command = DOCKER_LIKE + ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             os.path.join(image, "venv", "bin", "python"), "-m", "grader", "grade", folder,
                             "--out", str(out / "results.json"), "--data_path", str(out)]
    run = subprocess.run(command, cwd=code, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    results = json.loads((out / "results.json").read_text())
    (test,) = results["tests"]
    assert (test["name"], test["score"], test["max_score"]) == ("grader error", 0, 31)
    assert "needs the grader to run as root" in test["output"] and "not a fault of the submission" in test["output"]
    assert results["output"].startswith("Score: 0 / 31") and "[FAIL]" not in results["output"]

    # Setup that did not finish: run_autograder still writes results.json, a grader error out of 31.
    finished = os.path.join(image, "setup-finished")
    os.rename(finished, finished + ".away")
    try:
        results = autograde(image, solution_text())
    finally:
        os.rename(finished + ".away", finished)
    (test,) = results["tests"]
    assert (test["name"], test["score"], test["max_score"]) == ("grader error", 0, 31)
    assert "setup.sh did not finish" in test["output"]
    shutil.rmtree(out)
