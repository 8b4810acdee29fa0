"""Weight-space blends of two checkpoints of one run, the blend chosen on the validation pieces.

    python -m grader pretrained blend --checkpoints model-best-until-168000.pt model-196000.pt
    python -m grader pretrained export --checkpoint model-blend.pt

A run that goes on from a good checkpoint with a new recipe (a restarted learning rate, random tunings)
may gain on pieces unlike its validation pieces (a piano it never heard) while losing a little on them.
The weights of the two checkpoints mixed, (1 - w) * first + w * second, often keep most of both: the
two lie on one training path, so the mix stays in the same basin (as in "robust fine-tuning", Wortsman
et al., 2022). Each mix is exported and transcribed as `export` ships it (ONNX, whole validation pieces,
thresholds swept) and the one with the best note F1 plus note-with-offsets F1 is written to
model-blend.pt in the run's log folder, with the two steps, their weights and every mix's figures. Its
weights only: training never resumes from it.
"""
import os
import subprocess
import sys
import tempfile

from .thresholds import threshold_sweep      # puts the handout (export.py) on the path

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)      # of the second checkpoint
BLEND = "model-blend.pt"


def blended_weights(first, second, weight):
    """(1 - weight) * first + weight * second of two state dicts; counters (integers) from the second."""
    if first.keys() != second.keys():
        raise ValueError("the two checkpoints hold different parameters: blend checkpoints of one run")
    return {name: ((1 - weight) * first[name].double() + weight * second[name].double()).to(value.dtype)
            if value.is_floating_point() else value for name, value in second.items()}


def blend_checkpoints(first_path, second_path, weights, data_path, handout, out_path):
    """Score each blend of the two checkpoints on the validation pieces of `data_path` (exported with the
    export.py of `handout`, a handout folder whose model.py defines the model) and write the best to
    `out_path`; returns its checkpoint dictionary."""
    import torch
    from export import OnnxModel
    first, second = (torch.load(path, map_location="cpu", weights_only=True) for path in (first_path, second_path))
    for key in ("model_type", "cnn_unit", "fc_unit"):
        if first[key] != second[key]:
            sys.exit(f"error: {first_path} and {second_path} hold different models ({key} {first[key]} and "
                     f"{second[key]}): blend two checkpoints of one run")
    config = {key: second[key] for key in ("model_type", "cnn_unit", "fc_unit", "profile")}
    if first["step"] > second["step"]:
        first, second = second, first
    steps = [first["step"], second["step"]]
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for weight in weights:
            mix = {"steps": steps, "weights": [round(1 - weight, 6), weight]}
            candidate = {**config, "model_state_dict": blended_weights(first["model_state_dict"],
                                                                       second["model_state_dict"], weight),
                         "step": steps[1], "blend": mix}
            path = os.path.join(folder, f"blend-{weight}.pt")
            torch.save(candidate, path)
            subprocess.run([sys.executable, "export.py", path, "--onnx", path + ".onnx", "--data_path",
                            os.path.abspath(data_path), "--check_seconds", "2"], cwd=handout, check=True,
                           stdout=subprocess.DEVNULL)
            onset_f1, frame_f1, thresholds = threshold_sweep(OnnxModel(path + ".onnx", threads=2), data_path)
            figures[weight] = {"weights": mix["weights"], "note F1": round(max(onset_f1.values()), 4),
                               "note-with-offsets F1": round(max(frame_f1.values()), 4), "thresholds": thresholds}
            print(f"{1 - weight:.2f} x step {steps[0]} + {weight:.2f} x step {steps[1]}: validation note F1 "
                  f"{figures[weight]['note F1']:.4f}, note-with-offsets F1 "
                  f"{figures[weight]['note-with-offsets F1']:.4f} {thresholds}", flush=True)
        best = max(weights, key=lambda w: figures[w]["note F1"] + figures[w]["note-with-offsets F1"])
        chosen = torch.load(os.path.join(folder, f"blend-{best}.pt"), weights_only=True)
    chosen["validation"] = list(figures.values())
    torch.save(chosen, out_path + ".part")
    os.replace(out_path + ".part", out_path)
    return chosen
