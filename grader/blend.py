"""Weight-space blends of checkpoints of one run, the blend chosen on the validation pieces.

    python -m grader pretrained blend --checkpoints model-best-until-168000.pt model-196000.pt
    python -m grader pretrained train --steps 260000 --data_path data/large --keep_weights runs/stretch
    python -m grader pretrained blend --checkpoints model-best-until-168000.pt runs/stretch/model-2*.pt
    python -m grader pretrained export --checkpoint model-blend-260000.pt

A run that goes on from a good checkpoint with a new recipe (a restarted learning rate, random tunings) may
gain on pieces unlike its validation pieces (a piano it never heard) while losing a little on them. The
weights of two checkpoints mixed, (1 - w) * earlier + w * later, often keep most of both: the two lie on one
training path, so the mix stays in the same basin (as in "robust fine-tuning", Wortsman et al., 2022). The
later end may itself be the mean of several checkpoints of one stretch of training (stochastic weight
averaging, Izmailov et al., 2018): with a small batch, each checkpoint lies a random step away from where the
stretch was heading, and their mean lies closer. The earlier end may itself be an earlier blend (the weights
shipped, say, widened or not): the new blend keeps its recipe. Each mix is exported and transcribed as
`export` ships it (ONNX, whole validation pieces, thresholds swept) and scored by note F1 plus
note-with-offsets F1, in tune, on the same pieces played 25 cents flat and sharp, and with pink noise 20 dB
under them, the last three at the thresholds chosen in tune (as bench/peers.py plays the test pieces). The
out-of-tune pieces keep the rule from favouring a checkpoint from before `--detune`, which is best on in-tune
pieces and brittle on others, without spending the test pieces to see it; the noisy ones do the same for
recordings made in noisy rooms, which the validation pieces' rooms are not. The mix with the best mean over
the four is written to model-blend-<step>.pt in the run's log folder (<step>: the later end's last step), with
the steps, their weights and every mix's figures; a blend of that name already there is never replaced, as a
shipped blend is what its export was made from. Its weights only: training never resumes from it.
"""
import os
import subprocess
import sys
import tempfile

from .thresholds import transcribed_pieces      # puts the handout (export.py, evaluate.py) on the path

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)      # of the later end
DETUNE = (-25, 25)                       # cents: the validation pieces are also played this far out of tune
NOISE_DB = 20.0                          # and with pink noise this far under them


def blend_name(step):
    """The file name of a blend whose later end ends at `step`."""
    return f"model-blend-{step}.pt"


def blended_weights(states, weights):
    """The weighted sum of state dicts of one model; counters (integers) from the last."""
    if any(state.keys() != states[0].keys() for state in states):
        raise ValueError("the checkpoints hold different parameters: blend checkpoints of one run")
    return {name: sum(weight * state[name].double() for state, weight in zip(states, weights)).to(value.dtype)
            if value.is_floating_point() else value for name, value in states[-1].items()}


def tuning_scores(model, data_path, detune=DETUNE, noise_db=NOISE_DB):
    """A model's figures on the validation pieces: note F1 and note-with-offsets F1 in tune (thresholds swept,
    as export.py chooses them), and at those thresholds on the pieces played each of `detune` cents sharp and
    with pink noise `noise_db` dB under them (None: not); "score", the mean over these conditions of note F1
    plus note-with-offsets F1."""
    from evaluate import sweep_thresholds
    _, weak_f1, frame_f1, thresholds = sweep_thresholds(transcribed_pieces(model, data_path))
    figures = {"note F1": round(max(weak_f1.values()), 4),
               "note-with-offsets F1": round(max(frame_f1.values()), 4), "thresholds": thresholds}
    sums = [figures["note F1"] + figures["note-with-offsets F1"]]
    conditions = {f"{cents:+g} cents": {"cents": cents} for cents in detune}
    if noise_db is not None:
        conditions[f"noise {noise_db:g} dB"] = {"snr_db": noise_db}
    for name, condition in conditions.items():
        _, weak_f1, frame_f1, _ = sweep_thresholds(transcribed_pieces(model, data_path, **condition),
                                                   [thresholds["onset_threshold"]], [thresholds["frame_threshold"]],
                                                   [thresholds["weak_onset_threshold"]])
        played = {"note F1": round(*weak_f1.values(), 4), "note-with-offsets F1": round(*frame_f1.values(), 4)}
        figures[name] = played
        sums.append(played["note F1"] + played["note-with-offsets F1"])
    figures["score"] = round(sum(sums) / len(sums), 4)
    return figures


def blend_checkpoints(paths, weights, data_path, handout, out_folder, detune=DETUNE):
    """Score each blend of the earliest of the checkpoints `paths` with the mean of the others on the
    validation pieces of `data_path`, in tune, played `detune` cents sharp and with noise (exported with the
    export.py of `handout`, a handout folder whose model.py defines the model), and write the best to
    `out_folder` under `blend_name` of its last step; returns the path written and its checkpoint dictionary."""
    import torch
    from export import OnnxModel
    loaded = [torch.load(path, map_location="cpu", weights_only=True) for path in paths]
    for path, checkpoint in zip(paths[1:], loaded[1:]):
        for key in ("model_type", "cnn_unit", "fc_unit"):
            if checkpoint[key] != loaded[0][key]:
                sys.exit(f"error: {paths[0]} and {path} hold different models ({key} {loaded[0][key]} and "
                         f"{checkpoint[key]}): blend checkpoints of one run")
    checkpoints = sorted(loaded, key=lambda checkpoint: checkpoint["step"])
    config = {key: checkpoints[-1][key] for key in ("model_type", "cnn_unit", "fc_unit", "profile")}
    earlier, later = checkpoints[0], checkpoints[1:]
    steps = [earlier["step"], later[-1]["step"]]
    out_path = os.path.join(out_folder, blend_name(steps[1]))
    if os.path.exists(out_path):           # checked before the minutes of scoring, not after them
        sys.exit(f"error: {out_path} already exists (a blend that may have been shipped): rename it, or remove it "
                 "if nothing was exported from it, and blend again")
    states = [checkpoint["model_state_dict"] for checkpoint in checkpoints]
    later_name = f"step {steps[1]}"
    if len(later) > 1:
        later_name = f"the mean of steps {later[0]['step']}-{steps[1]}"
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for weight in weights:
            mix = {"steps": steps, "weights": [round(1 - weight, 6), weight]}
            if len(later) > 1:
                mix["later_mean_of"] = [checkpoint["step"] for checkpoint in later]
            if made := {key: earlier[key] for key in ("blend", "widened") if key in earlier}:
                mix["earlier"] = made          # the earlier end is itself a blend (or was widened): keep its recipe
            each = [1 - weight] + [weight / len(later)] * len(later)
            candidate = {**config, "model_state_dict": blended_weights(states, each), "step": steps[1], "blend": mix}
            path = os.path.join(folder, f"blend-{weight}.pt")
            torch.save(candidate, path)
            subprocess.run([sys.executable, "export.py", path, "--onnx", path + ".onnx", "--data_path",
                            os.path.abspath(data_path), "--check_seconds", "2"], cwd=handout, check=True,
                           stdout=subprocess.DEVNULL)
            figures[weight] = {"weights": mix["weights"],
                               **tuning_scores(OnnxModel(path + ".onnx", threads=2), data_path, detune)}
            print(f"{1 - weight:.2f} x step {steps[0]} + {weight:.2f} x {later_name}: " + figure_line(figures[weight]),
                  flush=True)
        best = max(weights, key=lambda w: figures[w]["score"])
        chosen = torch.load(os.path.join(folder, f"blend-{best}.pt"), weights_only=True)
    chosen["validation"] = list(figures.values())
    torch.save(chosen, out_path + ".part")
    os.replace(out_path + ".part", out_path)
    return out_path, chosen


def blend_shares(blend, share=1.0):
    """What a blend's weights are made of: (step, weight, the steps it is the mean of or None) for every
    checkpoint with a weight, an earlier end that was itself a blend unfolded into its own parts."""
    (earlier_step, later_step), (earlier_weight, later_weight) = blend["steps"], blend["weights"]
    inner = blend.get("earlier", {}).get("blend")
    parts = (blend_shares(inner, share * earlier_weight) if inner
             else [(earlier_step, round(share * earlier_weight, 6), None)])
    parts.append((later_step, round(share * later_weight, 6), blend.get("later_mean_of")))
    return [part for part in parts if part[1]]


def figure_line(figures):
    """One mix's figures, as `blend` prints them."""
    rows = {"in tune": figures, **{key: value for key, value in figures.items()
                                   if isinstance(value, dict) and "note F1" in value}}
    return (", ".join(f"{name} {row['note F1']:.4f} / {row['note-with-offsets F1']:.4f}" for name, row in rows.items())
            + f" (note F1 / with offsets), score {figures['score']:.4f}, thresholds {figures['thresholds']}")
