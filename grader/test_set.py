"""A submitted checkpoint, scored on the hidden test set for the leaderboard.

The checkpoint is first opened here with torch.load(weights_only=True), which refuses pickled code, and
under a size cap. The sandbox then sees the checkpoint, the handout with the student's model.py and the
test audio only (no MIDI, no labels); it returns frame and onset probabilities as float16 arrays. Notes
are decoded and scored here, against labels the sandbox never saw.

The test set has a public part, whose scores students see, and a private part, revealed only by the
instructor: the pieces, ordered by a hash of their file names, alternate between the parts, so the parts
are even and never change between runs of the same test set.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

from .hidden_tests import PROBE, read_arrays, read_results
from .sandbox import Limits, Sandbox
from .submission import MAX_CHECKPOINT

PARTS = ("public", "private")


class CheckpointError(Exception):
    pass


def inspect_checkpoint(path):
    """(model_type, cnn_unit, fc_unit) of a train.py checkpoint, read without running any code from it."""
    size = os.path.getsize(path)
    if size > MAX_CHECKPOINT:
        raise CheckpointError(f"model.pt is {size >> 20} MiB, more than {MAX_CHECKPOINT >> 20} MiB")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"model.pt cannot be read as a weights-only checkpoint ({type(error).__name__}: "
                              f"{str(error).splitlines()[0][:200]}); submit a model-<step>.pt that train.py "
                              "wrote, renamed model.pt") from None
    try:
        return str(checkpoint["model_type"]), int(checkpoint["cnn_unit"]), int(checkpoint["fc_unit"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError("model.pt lacks model_type, cnn_unit or fc_unit: submit a checkpoint written by "
                              "train.py") from None


def parts(paths):
    """{path: "public" or "private"} for the pieces of one test set."""
    ordered = sorted(paths, key=lambda p: hashlib.sha256(os.path.basename(p).encode()).hexdigest())
    return {path: PARTS[rank % 2] for rank, path in enumerate(ordered)}


def test_pieces(test_data):
    """Labels of every test piece (computed by the handout's loader, in this trusted process)."""
    from dataset import MAESTRO_small
    dataset = MAESTRO_small(test_data, groups=["test"], sequence_length=None, random_sample=False)
    pieces = []
    for index in range(len(dataset)):
        item = dataset[index]
        pieces.append({"path": item["path"], "frame": item["frame"].numpy(), "onset": item["onset"].numpy()})
    return pieces


def score_checkpoint(checkpoint, handout, work, test_data, unsafe=False, wall_seconds=1800):
    """Note F1 and frame F1 per part of the test set; raises CheckpointError with the reason."""
    from evaluate import evaluate_piece
    inspect_checkpoint(checkpoint)
    pieces = test_pieces(test_data)
    task_folder, out = os.path.join(work, "in-test"), os.path.join(work, "out-test")
    os.makedirs(task_folder)
    os.makedirs(out)
    box = Sandbox(unsafe=unsafe, limits=Limits(wall_seconds=wall_seconds, cpu_seconds=8 * wall_seconds,
                                               memory_bytes=8 << 30))
    audio = [box.read_only(piece["path"], f"audio/{i:04d}{os.path.splitext(piece['path'])[1]}")
             for i, piece in enumerate(pieces)]
    with open(os.path.join(task_folder, "task.json"), "w") as f:
        json.dump({"audio": audio}, f)
    command = [sys.executable, box.read_only(PROBE, "probe.py"), "transcribe", box.read_only(handout, "hw"),
               box.read_only(checkpoint, "model.pt"), box.read_only(task_folder, "in"), box.writable(out, "out")]
    outcome = box.run(command, cwd=box.scratch)
    rows = read_results(out)
    if not rows.get("load", {}).get("ok"):
        reason = rows.get("load", {}).get("error") or outcome.reason(box.limits)
        raise CheckpointError(f"the checkpoint could not be loaded with your model.py: {reason}")
    scores = {part: {"note_f1": [], "frame_f1": []} for part in PARTS}
    failures = []
    part_of = parts([piece["path"] for piece in pieces])
    for index, piece in enumerate(pieces):
        name = f"piece{index:04d}"
        try:
            if not rows.get(name, {}).get("ok"):
                raise ValueError(rows.get(name, {}).get("error") or outcome.reason(box.limits))
            arrays = read_arrays(out, name, max_bytes=256 << 20)
            frame, onset = arrays["frame"].astype(np.float32), arrays["onset"].astype(np.float32)
            if frame.shape != piece["frame"].shape or onset.shape != piece["onset"].shape:
                raise ValueError(f"probabilities of shape {frame.shape}, expected {piece['frame'].shape}")
            if not (np.isfinite(frame).all() and np.isfinite(onset).all()):
                raise ValueError("probabilities that are not finite")
            metrics = evaluate_piece(frame, onset, piece["frame"], piece["onset"])
            note_f1, frame_f1 = metrics["metric/note/f1"], metrics["metric/frame/frame_f1"]
        except Exception as error:         # a piece without a valid transcription scores zero
            failures.append(f"{os.path.basename(piece['path'])}: {error}")
            note_f1 = frame_f1 = 0.0
        part = scores[part_of[piece["path"]]]
        part["note_f1"].append(float(note_f1))
        part["frame_f1"].append(float(frame_f1))
    result = {part: {"note_f1": float(np.mean(v["note_f1"])) if v["note_f1"] else None,
                     "frame_f1": float(np.mean(v["frame_f1"])) if v["frame_f1"] else None,
                     "pieces": len(v["note_f1"])} for part, v in scores.items()}
    result["failures"] = failures[:10]
    result["seconds"] = round(outcome.wall_seconds, 1)
    return result
