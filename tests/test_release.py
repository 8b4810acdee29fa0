"""The handout: model.py generated from the solutions (in sync, no solution line), its public self-checks, the zip."""
import os
import subprocess
import sys

import pytest

from grader.release import HANDOUT_MODEL, SOLUTION_MODEL, solution_lines, strip_solutions
from submissions import MISTAKES, edited, solution_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_handout_model_is_generated_from_the_solutions():
    result = subprocess.run([sys.executable, "-m", "grader", "release", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout


def test_no_solution_line_leaks_into_the_handout():
    with open(SOLUTION_MODEL) as f:
        solution = f.read()
    with open(HANDOUT_MODEL) as f:
        handout = {line.strip() for line in f}
    given = {line.strip() for line in strip_solutions(solution).splitlines()}
    answers = [line for line in solution_lines(solution) if line not in given]   # the baseline shares some
    assert len(answers) > 15
    leaked = [line for line in answers if line in handout]
    assert not leaked, f"solution lines in hw/model.py: {leaked}"


def test_every_stub_names_its_question():
    with open(HANDOUT_MODEL) as f:
        handout = f.read()
    for question in ("Q1", "Q2", "Q3"):
        assert handout.count(f'NotImplementedError("{question}:') == 2


def test_markers_must_be_balanced():
    with pytest.raises(ValueError, match="never closed"):
        strip_solutions("x = 1\n# BEGIN SOLUTION\ny = 2\n")
    with pytest.raises(ValueError, match="without"):
        strip_solutions("# END SOLUTION\n")


def test_solutions_pass_the_public_tests():
    env = {**os.environ, "MODEL_FILE": SOLUTION_MODEL}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=os.path.join(ROOT, "hw"), env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_handout_zip_holds_no_solutions_and_its_tests_run(tmp_path):
    import zipfile
    out = tmp_path / "handout.zip"
    result = subprocess.run([sys.executable, "-m", "grader", "release", "--zip", str(out)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "unpacked")
    top = {name.split("/")[1] for name in names}
    assert top == {"hw", "data", "notebooks", "README.md", "requirements.txt", "requirements-onnx.txt", "Makefile", "pytest.ini"}
    assert not any(part in {"solutions", "grader", "tests", "bench", "runs", ".cache"} for name in names
                   for part in name.split("/")[1:2]), names
    assert "piano-transcription-hw/hw/tests/test_model.py" in names
    assert not any(name.endswith((".flac", ".midi", ".npy", ".pt")) for name in names)
    with open(SOLUTION_MODEL) as f:
        solution = f.read()
    given = {line.strip() for line in strip_solutions(solution).splitlines()}
    answers = {line for line in solution_lines(solution) if line not in given}
    root = tmp_path / "unpacked" / "piano-transcription-hw"
    for name in names:
        if name.endswith((".py", ".md", ".ipynb", ".txt", ".ini")):
            text = (tmp_path / "unpacked" / name).read_text()
            assert "BEGIN SOLUTION" not in text, name
            assert not answers & {line.strip() for line in text.splitlines()}, name
    # The unpacked handout's own tests run, and skip the unanswered questions.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "skipped" in run.stdout.splitlines()[-1] and "Q1:" in run.stdout
    # Its make test sets up what hw/tests need: not Chromium, the tools of the kit's own tests or the grader's
    # sandbox, as here.
    for folder, kit in ((root, False), (ROOT, True)):
        planned = subprocess.run(["make", "-n", "-B", "test"], cwd=folder, capture_output=True, text=True, check=True).stdout
        assert ("chromium" in planned) == kit and ("-r requirements-tests.txt" in planned) == kit, planned
        assert ("bubblewrap" in planned) == kit and "-r requirements.txt -r requirements-onnx.txt" in planned


def test_what_runs_leave_in_the_handout_stays_out_of_the_zip(tmp_path):
    import shutil
    from grader.release import HANDOUT_FILES, handout_members
    root = tmp_path / "repo"
    for name in HANDOUT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(ROOT, name), root / name)
    for folder in ("hw", "data", "notebooks"):
        shutil.copytree(os.path.join(ROOT, folder), root / folder,
                        ignore=shutil.ignore_patterns("runs", "default", "tiny", ".cache", "__pycache__"))
    run = root / "hw" / "runs" / "exp_261128-204235"         # what a student's (or a test's) run leaves behind
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "model-100.pt").write_bytes(b"weights")
    (root / "hw" / "model-best.pt").write_bytes(b"weights")
    (root / "hw" / "take.mid").write_bytes(b"MThd")
    names = [name for name, _ in handout_members(str(root))]
    assert "hw/train.py" in names and "hw/tests/test_model.py" in names
    assert not [name for name in names if "runs" in name.split(os.sep) or name.endswith((".pt", ".mid"))], names


def swapped(model_class):
    """The solutions with one class's forward returning (onset_logit, frame_logit)."""
    text = solution_text()
    start = text.index(f"class {model_class}(")
    at = text.index("return frame_logit, onset_logit", start)
    return text[:at] + "return onset_logit, frame_logit" + text[at + len("return frame_logit, onset_logit"):]


def always_detached():
    return edited("onset.detach() if self.detach_onsets else onset", "onset.detach()")


PUBLIC_MISTAKES = {     # name: (model.py text, the public tests that must fail, a phrase of the message)
    **{f"{model_type} swapped": (lambda c=model_class: swapped(c), {f"test_outputs_come_as_frame_then_onset[{model_type}]"}
                                 | ({"test_onf_frame_loss_does_not_train_the_onset_branch"} if model_type == "onf" else set()),
                                 "forward returned (onset_logit, frame_logit)")
       for model_type, model_class in [("baseline", "Transcriber"), ("rnn", "Transcriber_RNN"),
                                       ("crnn", "Transcriber_CRNN"), ("onf", "Transcriber_ONF")]},
    "onset not detached": (MISTAKES["onset not detached"][1],
                           {"test_onf_frame_loss_does_not_train_the_onset_branch"}, "detach sigmoid(onset_logit)"),
    "detached even for the ablation": (always_detached,
                                       {"test_onf_without_detach_lets_the_frame_loss_train_the_onset_branch"},
                                       "detach only when self.detach_onsets is True"),
}


@pytest.mark.parametrize("mistake", sorted(PUBLIC_MISTAKES))
def test_public_self_checks_name_the_mistake_in_one_line(mistake, tmp_path):
    text, failing, phrase = PUBLIC_MISTAKES[mistake]
    model_file = tmp_path / "model.py"
    model_file.write_text(text())
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", "tests"],
                            cwd=os.path.join(ROOT, "hw"), env={**os.environ, "MODEL_FILE": str(model_file)},
                            capture_output=True, text=True)
    failed = {line.split("::")[1].split(" ")[0] for line in result.stdout.splitlines() if line.startswith("FAILED")}
    assert failed == failing, result.stdout[-3000:]
    assert phrase in result.stdout and "tensor(" not in result.stdout and "Traceback" not in result.stdout
