"""The handout's model.py is generated from the solutions: it must be in sync and hold no solution line."""
import os
import subprocess
import sys

from grader.release import HANDOUT_MODEL, SOLUTION_MODEL, solution_lines, strip_solutions

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
    import pytest
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
    assert top == {"hw", "data", "notebooks", "README.md", "requirements.txt", "Makefile", "pytest.ini"}
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
