"""The grader on real submission folders: full marks, stubs, common mistakes, hostile code, batches, Gradescope."""
import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from grader.board.store import Board
from grader.grade import grade
from grader.hidden_tests import hidden_tests
from grader.sandbox import SANDBOX_UIDS, Limits, bubblewrap_available, processes_of
from grader.scores import checkpoint_scores
from grader.test_set import inspect_checkpoint, CheckpointError
from handout_runs import write_handout_with_solutions
from submissions import (HANDOUT, HOSTILE, MISTAKES, ONSET_FIRST, ROOT, edited, hostile_text, solution_text,
                         write_pickle_checkpoint, write_submission)

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap is not installed (make setup)")
LIMITS = Limits(wall_seconds=20, memory_bytes=6 << 30, threads=1)
# What each attack of submissions.HOSTILE gets under bubblewrap (test_gradescope.py: in the confined tier).
BUBBLEWRAP_REASONS = {"infinite loop": "time limit", "fork bomb": "time limit", "memory bomb": "MemoryError",
                      "socket": "Network is unreachable", "reads the solutions": "No such file",
                      "reads the grader": "No such file", "writes outside its folder": "No such file",
                      "overwrites the handout": "Read-only file system"}


def by_check(tests, model_type):
    return {t["check"]: t for t in tests if t["model"] == model_type}


@pytest.fixture(scope="module")
def checkpoint(tiny_data, tmp_path_factory):
    """A real rnn checkpoint: 75 steps of train.py on the tiny set, enough to find some frames."""
    logdir = tmp_path_factory.mktemp("run")
    hw = write_handout_with_solutions(tmp_path_factory.mktemp("hw"))
    subprocess.run([sys.executable, "train.py", "--model_type", "rnn", "-i", "75", "-vi", "75", "--skip_test",
                    "--data_path", tiny_data, "--logdir", str(logdir)], cwd=hw, check=True, capture_output=True)
    return str(logdir / "model-75.pt")


def test_solutions_get_full_marks_and_a_leaderboard_entry(tiny_data, checkpoint, tmp_path):
    folder = write_submission(str(tmp_path / "good"), solution_text(), checkpoint)
    results = grade(folder, tiny_data, test_data=tiny_data)
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    assert len(graded) == 22 and all(t["score"] == t["max_score"] for t in graded), results["output"]
    assert results["score"] == 31
    names = [entry["name"] for entry in results["leaderboard"]]
    assert names == ["note F1", "frame F1"] and all(0 <= e["value"] <= 1 for e in results["leaderboard"])
    hidden = [t for t in results["tests"] if t.get("visibility") == "hidden"]
    assert len(hidden) == 1 and "private" in json.loads(hidden[0]["output"])
    private = json.loads(hidden[0]["output"])["private"]
    assert private["frame_f1"] > 0 and results["leaderboard"][1]["value"] > 0      # the checkpoint found frames
    assert f"{private['frame_f1']:.4f}" not in results["output"]            # the readable report is public only
    for key in ["score", "execution_time", "output", "tests", "leaderboard", "visibility", "stdout_visibility"]:
        assert key in results
    with Board(str(tmp_path / "board.sqlite3")) as board:          # the board reads what grade() wrote
        board.post(results, "20261234", "Blue Heron")
        (stored,) = board.submissions()
        (row,) = board.standings()
    assert stored["score"] == 31 and stored["max_score"] == 31
    assert (stored["private_note_f1"], stored["private_frame_f1"]) == (private["note_f1"] or 0.0,
                                                                       private["frame_f1"] or 0.0)
    assert round(row["note_f1"], 4) == results["leaderboard"][0]["value"] and "private_note_f1" not in row


def test_stubs_score_zero_with_the_question_named(tiny_data, tmp_path):
    tests, _ = hidden_tests(HANDOUT, str(tmp_path), tiny_data, limits=LIMITS)
    assert tests and all(t["score"] == 0 for t in tests)
    for t in tests:
        assert t["output"].startswith("not written yet") and {"rnn": "Q1", "crnn": "Q2", "onf": "Q3"}[t["model"]] in t["output"]


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_common_mistakes_lose_exactly_the_right_points(tiny_data, tmp_path, mistake):
    model_type, text, failing, phrase = MISTAKES[mistake]
    model_file = write_submission(str(tmp_path / "sub"), text())
    tests, _ = hidden_tests(os.path.join(model_file, "model.py"), str(tmp_path), tiny_data, models=[model_type],
                            limits=LIMITS)
    checks = by_check(tests, model_type)
    lost = {name for name, t in checks.items() if t["score"] < t["max_score"]}
    assert lost == failing, {n: t["output"] for n, t in checks.items()}
    assert any(phrase in checks[name]["output"] for name in failing), {n: checks[n]["output"] for n in failing}


def test_onset_first_combined_input_is_accepted(tiny_data, tmp_path):
    model_type, text = ONSET_FIRST
    folder = write_submission(str(tmp_path / "sub"), text())
    tests, _ = hidden_tests(os.path.join(folder, "model.py"), str(tmp_path), tiny_data, models=[model_type],
                            limits=LIMITS)
    transplant = by_check(tests, model_type)["transplant"]
    assert transplant["score"] == transplant["max_score"] and "onset part first" in transplant["output"]


@pytest.mark.parametrize("variant", ["without the ablation argument", "built for the ablation by default"])
def test_the_detach_ablation_argument_is_ignored_by_the_grader(tiny_data, tmp_path, variant):
    # The grader builds Transcriber_ONF(cnn_unit, fc_unit): a model that lacks detach_onsets loses nothing,
    # and one whose default leaves the detach out loses the gradient check, as any missing detach does.
    if variant == "without the ablation argument":
        text = edited("def __init__(self, cnn_unit, fc_unit, detach_onsets=True):",
                      "def __init__(self, cnn_unit, fc_unit):").replace("self.detach_onsets = detach_onsets",
                                                                         "self.detach_onsets = True")
    else:
        text = edited("def __init__(self, cnn_unit, fc_unit, detach_onsets=True):",
                      "def __init__(self, cnn_unit, fc_unit, detach_onsets=False):")
    folder = write_submission(str(tmp_path / "sub"), text)
    tests, _ = hidden_tests(os.path.join(folder, "model.py"), str(tmp_path), tiny_data, models=["onf"], limits=LIMITS)
    lost = {name for name, t in by_check(tests, "onf").items() if t["score"] < t["max_score"]}
    assert lost == (set() if variant == "without the ablation argument" else {"gradient"})


def record_sandbox_uids(monkeypatch):
    """The user ids of the sandboxes run from here on (other gradings on this machine use others)."""
    from grader.sandbox import Sandbox
    used, run = set(), Sandbox.run

    def recording_run(box, *args, **kwargs):
        used.add(box.uid)
        return run(box, *args, **kwargs)
    monkeypatch.setattr(Sandbox, "run", recording_run)
    return used


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_code_is_contained_and_the_other_models_still_grade(tiny_data, tmp_path, attack, monkeypatch):
    model_type, code = HOSTILE[attack]
    uids = record_sandbox_uids(monkeypatch)
    folder = write_submission(str(tmp_path / "sub"), hostile_text(code, model_type))
    tests, _ = hidden_tests(os.path.join(folder, "model.py"), str(tmp_path), tiny_data, models=["rnn", "crnn"],
                            limits=LIMITS)
    attacked, other = by_check(tests, "rnn"), by_check(tests, "crnn")
    assert all(t["score"] == 0 for t in attacked.values()), {n: t["output"] for n, t in attacked.items()}
    assert all(t["score"] == t["max_score"] for t in other.values()), {n: t["output"] for n, t in other.items()}
    reason = attacked["build"]["output"]
    assert BUBBLEWRAP_REASONS[attack] in reason, reason
    assert not os.path.exists(os.path.join(ROOT, "grader", "owned.py"))
    if os.geteuid() == 0:
        assert uids and all(uid in SANDBOX_UIDS for uid in uids) and not processes_of(uids)   # nothing left running


def test_pickle_checkpoint_is_refused_without_running_it(tiny_data, tmp_path):
    marker = tmp_path / "code-ran"
    folder = write_submission(str(tmp_path / "sub"), solution_text())
    write_pickle_checkpoint(os.path.join(folder, "model.pt"), marker)
    with pytest.raises(CheckpointError, match="weights-only"):
        inspect_checkpoint(os.path.join(folder, "model.pt"))
    results = grade(folder, tiny_data, test_data=tiny_data, models=["rnn"])
    assert not marker.exists()
    scored = [t for t in results["tests"] if t["name"].startswith("checkpoint")]
    assert len(scored) == 1 and "weights-only" in scored[0]["output"] and results["leaderboard"] == []


def test_huge_checkpoint_and_bad_zips_are_refused(tiny_data, tmp_path):
    folder = write_submission(str(tmp_path / "sub"), solution_text())
    with open(os.path.join(folder, "model.pt"), "wb") as f:
        f.truncate(300 << 20)                           # sparse: 300 MiB on paper
    results = grade(folder, tiny_data, test_data=tiny_data, models=["rnn"])
    assert "larger than 200 MiB" in results["output"] and results["leaderboard"] == []

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("model.py", solution_text())
        archive.writestr("../../escaped.py", "x")
    results = grade(str(evil), tiny_data, models=["rnn"])
    assert results["score"] == 0 and "outside its folder" in results["output"]
    assert results["output"].startswith("Score: 0 / 10")        # out of the full score, for grade books
    assert not (tmp_path.parent / "escaped.py").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no model.py" in grade(str(empty), tiny_data)["output"]


def test_grading_refuses_without_bubblewrap_unless_told(tiny_data, tmp_path):
    folder = write_submission(str(tmp_path / "sub"), solution_text())
    out = tmp_path / "results.json"
    env = dict(os.environ, PATH="/nonexistent")             # no bwrap to be found
    run = subprocess.run([sys.executable, "-m", "grader", "grade", folder, "--out", str(out), "--data_path", tiny_data,
                          "--models", "rnn"], cwd=ROOT, env=env, capture_output=True, text=True)
    results = json.loads(out.read_text())
    assert run.returncode == 0 and results["score"] == 0 and "bubblewrap" in results["output"]
    run = subprocess.run([sys.executable, "-m", "grader", "grade", folder, "--out", str(out), "--data_path", tiny_data,
                          "--models", "rnn", "--unsafe-no-sandbox"], cwd=ROOT, env=env, capture_output=True, text=True)
    results = json.loads(out.read_text())
    assert results["score"] == 10 and "WITHOUT A SANDBOX" in results["output"]


def test_a_time_limit_that_is_not_whole_seconds_is_refused_in_one_sentence(tmp_path):
    bundle = tmp_path / "autograder.zip"
    for command in (["grade", str(tmp_path), "--time_limit", "0"],
                    ["gradescope-bundle", "--out", str(bundle), "--time_limit", "1.5"]):
        run = subprocess.run([sys.executable, "-m", "grader", *command], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 2 and "is not a time limit: give a whole number of seconds" in run.stderr, run.stderr
    assert not bundle.exists()
    subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", "--out", str(bundle), "--time_limit",
                   "45"], cwd=ROOT, capture_output=True, text=True, check=True)
    with zipfile.ZipFile(bundle) as archive:                    # run_autograder passes it on to every grading
        assert "--time_limit 45" in archive.read("run_autograder").decode()
        names = archive.namelist()
    assert "hw/train.py" in names and "solutions/model.py" in names and "requirements.txt" in names
    # Only what grading uses: never the browser page's npm packages or the pretrained transcriber.
    assert not [name for name in names if name.startswith(("hw/web/", "hw/pretrained/")) or "node_modules" in name]
    assert bundle.stat().st_size < 2 * 2 ** 20


def test_grade_post_puts_the_results_on_the_board(tiny_data, checkpoint, tmp_path):
    folder = write_submission(str(tmp_path / "sub"), solution_text(), checkpoint)
    out, db = tmp_path / "results.json", str(tmp_path / "board.sqlite3")
    command = [sys.executable, "-m", "grader", "grade", folder, "--out", str(out), "--data_path", tiny_data,
               "--test_data", tiny_data, "--models", "rnn", "--post", "--db", db]
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "--post needs --student and --pseudonym" in refused.stderr
    run = subprocess.run(command + ["--student", "20261234", "--pseudonym", "Blue Heron"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    with Board(db) as board:
        (stored,) = board.submissions()
    assert (stored["student"], stored["pseudonym"], stored["score"]) == ("20261234", "Blue Heron", results["score"])
    private = checkpoint_scores(results)["private"]
    assert (stored["private_note_f1"], stored["private_frame_f1"]) == (private["note_f1"] or 0.0,
                                                                       private["frame_f1"] or 0.0)
    assert "posted submission 1 as Blue Heron" in run.stdout and "ranked 1 of 1" in run.stdout
    public = {entry["name"]: entry["value"] for entry in results["leaderboard"]}
    assert f"frame F1 {public['frame F1']:.4f}" in run.stdout
    assert private["frame_f1"] != public["frame F1"] and f"{private['frame_f1']:.4f}" not in run.stdout + run.stderr


def test_grade_all_grades_every_submission_despite_bad_ones(tiny_data, tmp_path):
    class_folder = tmp_path / "class"
    write_submission(str(class_folder / "alice"), solution_text())
    write_submission(str(class_folder / "bob"), hostile_text(HOSTILE["infinite loop"][1], "rnn"))
    (class_folder / "carol").mkdir()                        # submitted nothing usable
    grades = tmp_path / "grades.csv"
    run = subprocess.run([sys.executable, "-m", "grader", "grade-all", str(class_folder), "--jobs", "2", "--csv",
                          str(grades), "--results", str(tmp_path / "graded"), "--data_path", tiny_data,
                          "--models", "rnn", "--time_limit", "15"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {row["submission"]: row for row in csv.DictReader(open(grades))}
    assert set(rows) == {"alice", "bob", "carol"}
    assert float(rows["alice"]["score"]) == 10 and float(rows["bob"]["score"]) == 0
    assert float(rows["carol"]["score"]) == 0 and rows["carol"]["status"] == "graded"
    assert (tmp_path / "graded" / "bob" / "results.json").exists()


def test_metric_check_passes_the_solution_and_fails_a_model_that_cannot_learn(tiny_data, tmp_path):
    from grader.hidden_tests import copy_handout
    from grader.metric_check import metric_check
    from grader.reference import collect, train
    runs, out = str(tmp_path / "runs"), str(tmp_path / "examples")
    train("cpu", "rnn", 1, 20, 10, tiny_data, runs, name="quick")
    band = collect("cpu", "rnn", [1], "quick", runs, out)
    verdicts = {}
    for name, text in [("solution", solution_text()), ("sigmoid", MISTAKES["sigmoid in forward"][1]().replace(
            "self.onset_lstm(mel)[0])\n        return frame_logit, onset_logit",
            "self.onset_lstm(mel)[0])\n        return torch.sigmoid(frame_logit), torch.sigmoid(onset_logit)"))]:
        model_file = write_submission(str(tmp_path / name), text)
        handout = copy_handout(os.path.join(model_file, "model.py"), str(tmp_path / name / "hw"))
        work = tmp_path / name / "work"
        work.mkdir()
        verdicts[name] = metric_check("quick", "rnn", handout, str(work), tiny_data, band_path=band)
    assert verdicts["solution"]["score"] == verdicts["solution"]["max_score"], verdicts["solution"]["output"]
    # Without a sandbox (a GPU machine without bubblewrap) the run reads the data where it lies.
    unsafe_work = tmp_path / "solution" / "unsafe-work"
    unsafe_work.mkdir()
    unsafe = metric_check("quick", "rnn", str(tmp_path / "solution" / "hw"), str(unsafe_work), tiny_data,
                          unsafe=True, band_path=band)
    assert unsafe["score"] == unsafe["max_score"], unsafe["output"]
    assert verdicts["sigmoid"]["score"] < verdicts["solution"]["score"]
    assert "frame_loss at step 10" in verdicts["sigmoid"]["output"], verdicts["sigmoid"]["output"]
    # Under the verdict, the run's curve beside the band's floor: step, note F1 (floor), frame F1 (floor).
    reference = json.load(open(band))
    for verdict in verdicts.values():
        table = [line.split() for line in verdict["output"].splitlines()[2:]]
        assert [cells[0] for cells in table] == [str(step) for step in reference["steps"]], verdict["output"]
        for cells, row, (note_floor, _), (frame_floor, _) in zip(table, verdict["metrics"],
                                                                 reference["band"]["metric/note/f1"],
                                                                 reference["band"]["metric/frame/frame_f1"]):
            expected = [f"{row['metric/note/f1']:.4f}", f"({max(note_floor, 0):.4f})",
                        f"{row['metric/frame/frame_f1']:.4f}", f"({max(frame_floor, 0):.4f})"]
            assert cells[1:] == expected, verdict["output"]


@pytest.mark.parametrize("model", ["rnn", "crnn", "onf"])
def test_metric_check_curve_shows_the_committed_reference_run_above_its_band(model):
    from grader.metric_check import POINTS, band_file, curve, judge
    reference = json.load(open(band_file("5k", model)))
    rows = reference["metrics"][str(reference["seeds"][0])]
    assert judge(rows, reference)[0] == POINTS
    table = [line.split() for line in curve(rows, reference).splitlines()[1:]]
    assert [int(cells[0]) for cells in table] == reference["steps"] == [row["step"] for row in rows]
    for cells, row in zip(table, rows):
        note, note_floor, frame, frame_floor = (float(cell.strip("()")) for cell in cells[1:])
        assert (note, frame) == (round(row["metric/note/f1"], 4), round(row["metric/frame/frame_f1"], 4))
        assert note >= note_floor and frame >= frame_floor
    assert note > 0 and frame > 0                            # by step 5000 every model transcribes


PROBE = ("import os, resource; limit = resource.getrlimit(resource.RLIMIT_AS)[0]; "
         "print(os.path.exists('/dev/kmsg'), os.path.isdir('/sys/class'), limit == resource.RLIM_INFINITY, "
         "repr(os.environ.get('CUDA_VISIBLE_DEVICES')))")


def test_gpu_sandbox_binds_the_devices_and_lifts_only_the_address_space_limit(tmp_path, monkeypatch):
    from grader.sandbox import Sandbox
    plain = Sandbox(limits=Limits(wall_seconds=30))
    outcome = plain.run([sys.executable, "-c", PROBE], cwd="/tmp")
    assert outcome.ok and outcome.output.split() == ["False", "False", "False", "''"], outcome.output
    # This machine has no GPU: /dev/kmsg (a character device bubblewrap's /dev lacks) stands in for
    # /dev/nvidia*, to show the nodes, /sys and the limits a CUDA process needs reach the sandbox.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setattr("grader.sandbox.gpu_devices", lambda: ["/dev/kmsg"])
    gpu = Sandbox(limits=Limits(wall_seconds=30, gpu=True))
    outcome = gpu.run([sys.executable, "-c", PROBE], cwd="/tmp")
    assert outcome.ok and outcome.output.split() == ["True", "True", "True", "'1'"], outcome.output
    assert "RLIMIT_AS" not in gpu.rlimits() and gpu.rlimits()["RLIMIT_NPROC"] == plain.rlimits()["RLIMIT_NPROC"]


@pytest.mark.skipif(bool(__import__("glob").glob("/dev/nvidia*")), reason="this machine has an NVIDIA GPU")
def test_asking_for_a_gpu_without_one_is_refused_in_one_sentence(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path), "--device", "cuda"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no NVIDIA device under /dev" in run.stderr
    from grader.sandbox import Sandbox, SandboxUnavailable
    with pytest.raises(SandboxUnavailable, match="no NVIDIA device"):
        Sandbox(limits=Limits(gpu=True))
