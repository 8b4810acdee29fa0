"""Short real runs of the solutions in a copy of the handout, for the tests of what reads checkpoints."""
import os
import subprocess
import sys

from evaluate import extract_notes
from submissions import ROOT, solution_text

ROUND_THRESHOLDS = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def write_handout_with_solutions(folder):
    """The handout's Python files in `folder`, with the solutions' model.py in place of the stubs."""
    for name in os.listdir(os.path.join(ROOT, "hw")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "hw", name)) as f:
                (folder / name).write_text(solution_text() if name == "model.py" else f.read())
    return folder


def train_briefly(hw, model_type, data, logdir, steps=30):
    """`steps` steps of train.py at tiny widths on one thread; returns the path of the last checkpoint."""
    result = subprocess.run([sys.executable, "train.py", "--model_type", model_type, "-i", str(steps), "-vi",
                             str(steps), "-b", "2", "-v", "20480", "-cnn", "4", "-fc", "16", "--threads", "1",
                             "--skip_test", "--data_path", data, "--logdir", str(logdir)], cwd=hw, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(logdir / f"model-{steps}.pt")


def threshold_with_notes(probabilities, count):
    """The highest round threshold at which the probabilities give at least `count` notes. A briefly trained
    model's probabilities sit near the label rates; a probability within rounding of a round number would be
    a freak, so two runtimes agree on the notes there."""
    return next(t for t in ROUND_THRESHOLDS
                if len(extract_notes(probabilities["onset"], probabilities["frame"], None, t, t)[0]) >= count)
