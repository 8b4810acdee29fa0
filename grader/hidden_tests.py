"""Hidden tests: the student's models measured in the sandbox (probe.py), judged here against the solutions.

Every test names what it checks, gives partial credit per model, and fails closed: a check that crashed,
hung or left no output scores zero with the reason. The solutions run here, in the trusted process; the
student's code runs only in the sandbox.
"""
import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import torch

from . import probe
from .sandbox import Limits, Sandbox, read_json_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDOUT = os.path.join(ROOT, "hw")
SOLUTION_MODEL = os.path.join(ROOT, "solutions", "model.py")
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")
if HANDOUT not in sys.path:      # the handout's own modules (dataset, evaluate) are trusted: imported from hw/
    sys.path.insert(0, HANDOUT)

GRADED_MODELS = ["rnn", "crnn", "onf"]
QUESTION = {"rnn": "Q1", "crnn": "Q2", "onf": "Q3"}
SIZES = [(48, 256), (16, 128), (8, 32)]         # (cnn_unit, fc_unit): the homework's, the cpu profile's, tiny
SMALL = (8, 32)                                 # the size the behaviour checks run at
CROP = 32768                                    # samples in each fixed input (64 frames)
LENGTHS = [16384, 20000, 32768]                 # shapes are checked at these input lengths
TRAINING = {"steps": 8, "learning_rate": 1e-3, "seed": 7}
POINTS = {"build": 1, "layers": 2, "parameters": 1, "shapes": 1, "transplant": 3, "gradient": 1,
          "training": 1, "determinism": 1}
TITLES = {"build": "builds with (cnn_unit, fc_unit)", "layers": "layers and attribute names",
          "parameters": "parameter counts", "shapes": "output shapes",
          "transplant": "same outputs as the solution with the solution's weights",
          "gradient": "frame loss does not train the onset branch", "training": "a few training steps lower the loss",
          "determinism": "same outputs under the same seed"}


def checks_for(model_type):
    return [c for c in POINTS if c != "gradient" or model_type == "onf"]


def load_solutions():
    """The instructor's model module (imported only here, never shown to student code)."""
    spec = importlib.util.spec_from_file_location("solution_model", SOLUTION_MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixed_inputs(data_path):
    """Two real crops (audio and labels) from the first validation pieces of a data folder."""
    from dataset import MAESTRO_small
    dataset = MAESTRO_small(data_path, groups=["validation"], sequence_length=CROP, random_sample=False)
    items = [dataset[i % len(dataset)] for i in range(2)]
    return {name: torch.stack([item[name] for item in items]).numpy() for name in ["audio", "frame", "onset"]}


def onf_variants(model, audio):
    """frame_logit of the solution's ONF for each reading the homework text allows of its combined input:
    the frame and onset parts as probabilities or logits, in either order (the onset part detached)."""
    mel = model.melspectrogram(audio)
    onset_logit = model.onset_fc(model.onset_lstm(model.onset_conv_stack(mel))[0])
    frame_part = model.frame_fc(model.frame_conv_stack(mel))
    variants = {}
    for frame_sigmoid in (True, False):
        for onset_sigmoid in (True, False):
            for onset_first in (False, True):
                f = torch.sigmoid(frame_part) if frame_sigmoid else frame_part
                o = (torch.sigmoid(onset_logit) if onset_sigmoid else onset_logit).detach()
                combined = torch.cat([o, f] if onset_first else [f, o], dim=-1)
                name = (f"{'onset' if onset_first else 'frame'} part first, frame part as "
                        f"{'probabilities' if frame_sigmoid else 'logits'}, onset part as "
                        f"{'probabilities' if onset_sigmoid else 'logits'}")
                variants[name] = model.combined_fc(model.combined_lstm(combined)[0])
    return variants


class Expected:
    """What the solution gives for one model type, computed once per grading process."""

    def __init__(self, solutions, model_type, inputs):
        Model = getattr(solutions, probe.CLASS_NAMES[model_type])
        self.sizes = []
        for size in SIZES:
            torch.manual_seed(0)
            self.sizes.append(probe.describe(Model(*size)))
        torch.manual_seed(0)
        model = Model(*SMALL).eval()
        audio = torch.from_numpy(inputs["audio"])
        with torch.no_grad():
            self.lengths = [probe.outputs_summary(model(audio[:1, :n])) for n in LENGTHS]
            self.frame, self.onset = model(audio)
            self.variants = onf_variants(model, audio) if model_type == "onf" else {}
        self.state = {f"state/{k}": v.numpy() for k, v in model.state_dict().items()}


def write_inputs(folder, model_type, inputs, expected):
    os.makedirs(folder, exist_ok=True)
    task = {"model_type": model_type, "sizes": SIZES, "small": SMALL, "lengths": LENGTHS,
            "checks": checks_for(model_type), **TRAINING}
    with open(os.path.join(folder, "task.json"), "w") as f:
        json.dump(task, f)
    np.savez(os.path.join(folder, "arrays.npz"), **inputs, **expected.state)


def read_results(folder):
    """Rows of results.jsonl by check name (the first row of each check counts)."""
    rows = {}
    for row in read_json_lines(os.path.join(folder, "results.jsonl")):
        if "check" in row:
            rows.setdefault(str(row["check"]), row)
    return rows


def read_arrays(folder, name, max_bytes=64 << 20):
    path = os.path.join(folder, f"{name}.npz")
    if not os.path.isfile(path) or os.path.getsize(path) > max_bytes:
        raise ValueError("no arrays were written")
    with np.load(path, allow_pickle=False) as saved:
        return {key: np.asarray(saved[key], dtype=np.float64) for key in saved.files}


def close(a, b, tolerance=1e-4):
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=tolerance)


# Judges: each returns (fraction of the points, message).

def judge_build(row, expected, out):
    return 1.0, f"built at (cnn_unit, fc_unit) = {', '.join(map(str, SIZES))}"


def judge_layers(row, expected, out):
    problems = []
    student = row["data"]["sizes"][0]["layers"]
    for name, want in expected.sizes[0]["layers"].items():
        have = student.get(name)
        if have is None:
            problems.append(f"no attribute {name} (a {want['type']})")
            continue
        for field, value in want.items():
            if field != "parameters" and have.get(field) != value:
                problems.append(f"{name}.{field} is {have.get(field)}, expected {value}")
    extra = sorted(set(student) - set(expected.sizes[0]["layers"]))
    if extra:
        problems.append(f"unexpected layers {', '.join(extra)} (the tests look for the docstring's names)")
    if problems:
        return 0.0, "; ".join(problems[:6])
    return 1.0, "every layer of the docstring's table, with the right type and sizes"


def judge_parameters(row, expected, out):
    counts = [s["parameters"] for s in row["data"]["sizes"]]
    wanted = [s["parameters"] for s in expected.sizes]
    wrong = [f"{c:,} at {size} (expected {w:,})" for c, w, size in zip(counts, wanted, SIZES) if c != w]
    if wrong:
        return 0.0, "parameter count " + "; ".join(wrong)
    return 1.0, f"{counts[0]:,} parameters at {SIZES[0]}, as expected"


def judge_shapes(row, expected, out):
    for n, got, want in zip(LENGTHS, row["data"]["lengths"], expected.lengths):
        if got != want:
            return 0.0, (f"for {n} samples of audio forward returned {got.get('type')} with shapes "
                         f"{got.get('shapes')}; expected a tuple (frame_logit, onset_logit) of shapes {want['shapes']}")
    return 1.0, f"(frame_logit, onset_logit) with the right shapes for {len(LENGTHS)} input lengths"


def judge_transplant(row, expected, out):
    arrays = read_arrays(out, "transplant")
    frame, onset = arrays.get("frame"), arrays.get("onset")
    want_frame, want_onset = expected.frame.double().numpy(), expected.onset.double().numpy()
    if frame is None or onset is None:
        return 0.0, "no outputs were written"
    if close(frame, want_onset) and close(onset, want_frame):
        return 0.0, "forward returns (onset_logit, frame_logit): return (frame_logit, onset_logit)"
    if close(frame, torch.sigmoid(expected.frame).double().numpy()):
        return 0.0, ("forward applies a sigmoid: return logits (train.py's loss and evaluate.py apply the "
                     "sigmoid themselves)")
    if not close(onset, want_onset):
        return 0.0, f"onset_logit differs from the solution's by up to {np.abs(onset - want_onset).max():.3g}"
    if close(frame, want_frame):
        return 1.0, "frame_logit and onset_logit equal the solution's"
    for name, variant in list(expected.variants.items())[1:]:
        if close(frame, variant.double().numpy()):
            return 1.0, f"equal to the solution's, reading the combined input as: {name} (accepted)"
    if frame.shape != want_frame.shape:
        return 0.0, f"frame_logit has shape {frame.shape}, expected {want_frame.shape}"
    return 0.0, (f"frame_logit differs from the solution's by up to {np.abs(frame - want_frame).max():.3g}; "
                 "compare the order of the layers with the docstring")


def judge_gradient(row, expected, out):
    norms = row["data"]["gradient"]
    leaking = [name for name, norm in norms.items() if name.startswith("onset") and norm > 0]
    if leaking:
        return 0.0, (f"the frame loss reaches {', '.join(leaking)}: detach the onset output before it joins "
                     "the frame branch")
    if not any(norm > 0 for name, norm in norms.items() if not name.startswith("onset")):
        return 0.0, "the frame loss trains no layer at all"
    return 1.0, "the frame loss leaves the onset branch untouched"


def judge_training(row, expected, out):
    losses = row["data"]["losses"]
    if len(losses) != TRAINING["steps"] or not all(np.isfinite(losses)):
        return 0.0, f"the loss is not finite: {losses}"
    if min(losses[-3:]) < 0.9 * losses[0]:
        return 1.0, f"loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} Adam steps on one batch"
    return 0.0, f"loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} Adam steps on one batch: it should fall"


def judge_determinism(row, expected, out):
    arrays = read_arrays(out, "determinism")
    if "frame0" in arrays and "frame1" in arrays and np.array_equal(arrays["frame0"], arrays["frame1"]):
        return 1.0, "two models built after torch.manual_seed give identical outputs"
    return 0.0, "two models built after the same torch.manual_seed give different outputs"


JUDGES = {"build": judge_build, "layers": judge_layers, "parameters": judge_parameters, "shapes": judge_shapes,
          "transplant": judge_transplant, "gradient": judge_gradient, "training": judge_training,
          "determinism": judge_determinism}
NEEDS = {"layers": "build", "parameters": "build"}     # checks judged from another check's measurements


def handout_copy(work):
    """Where a grading's copy of the handout lives: the probes, metric check and checkpoint share it."""
    return os.path.join(work, "hw")


def copy_handout(model_file, folder):
    """The handout's Python files with the student's model.py: all the student code may see."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(HANDOUT):
        if name.endswith(".py") and name != "model.py":
            shutil.copyfile(os.path.join(HANDOUT, name), os.path.join(folder, name))
    shutil.copyfile(model_file, os.path.join(folder, "model.py"))
    return folder


def run_model_checks(model_type, handout, work, inputs, expected, unsafe, limits):
    """Probe one model type in the sandbox; returns the judged tests."""
    task_folder, out = os.path.join(work, f"in-{model_type}"), os.path.join(work, f"out-{model_type}")
    write_inputs(task_folder, model_type, inputs, expected)
    os.makedirs(out)
    box = Sandbox(unsafe=unsafe, limits=limits)
    command = [sys.executable, box.read_only(PROBE, "probe.py"), "checks", box.read_only(handout, "hw"),
               model_type, box.read_only(task_folder, "in"), box.writable(out, "out")]
    outcome = box.run(command, cwd=box.scratch)
    rows = read_results(out)
    tests = []
    for check in checks_for(model_type):
        title = f"{QUESTION[model_type]} {model_type}: {TITLES[check]}"
        row = rows.get(NEEDS.get(check, check))
        if rows.get("import", {}).get("ok") is False:
            score, message = 0.0, f"model.py could not be imported: {rows['import'].get('error')}"
        elif row is None:
            score, message = 0.0, f"not measured: {outcome.reason(limits) if not outcome.ok else 'no result'}"
        elif not row.get("ok"):
            score, message = 0.0, f"raised {row.get('error')}"
            if "NotImplementedError" in str(row.get("error")):
                message = f"not written yet ({row.get('error')})"
        else:
            try:
                score, message = JUDGES[check](row, expected, out)
            except Exception as error:                     # malformed measurements fail closed
                score, message = 0.0, f"unreadable measurement ({type(error).__name__}: {error})"
        tests.append({"name": title, "score": POINTS[check] * score, "max_score": POINTS[check],
                      "output": message, "model": model_type, "check": check})
    return tests, outcome


_expected_cache = {}


def probe_limits(seconds=60):
    """Limits of one model's probe: the inputs are small, and one thread is fastest on them."""
    return Limits(wall_seconds=seconds, memory_bytes=6 << 30, threads=1)


def hidden_tests(model_file, work, data_path, unsafe=False, models=GRADED_MODELS, limits=None):
    """Every hidden test of one model.py; returns (tests, notes about the runs)."""
    limits = limits or probe_limits()
    key = os.path.abspath(data_path)
    if key not in _expected_cache:
        solutions = load_solutions()
        inputs = fixed_inputs(data_path)
        _expected_cache[key] = inputs, {m: Expected(solutions, m, inputs) for m in GRADED_MODELS}
    inputs, expected = _expected_cache[key]
    handout = copy_handout(model_file, handout_copy(work))
    tests, notes = [], []
    for model_type in models:
        model_tests, outcome = run_model_checks(model_type, handout, work, inputs, expected[model_type], unsafe, limits)
        tests += model_tests
        notes.append(f"{model_type}: probe {'finished' if outcome.ok else 'failed: ' + outcome.reason(limits)} "
                     f"in {outcome.wall_seconds:.1f} s")
    return tests, notes
