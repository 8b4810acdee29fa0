"""The kit's pretrained transcriber (hw/pretrained/): a long run of a solutions model on the kit's data,
spread over as many sittings as it takes, then exported to ONNX beside what it was trained on.

    python -m grader pretrained train [--steps 200000] [--threads 1] [--data_path data/large] [--augment]
                                      [--detune] [--noise] [--learning_rate LR]  # start, or go on
                                      [--keep_weights DIR]             # and keep every checkpoint's weights
    python -m grader pretrained blend --checkpoints A B [C ...]    # model-blend-<step>.pt: the best mix of them
    python -m grader pretrained export [--checkpoint model-blend-<step>.pt]
                                                        # hw/pretrained/ from the newest recipe's best validation
    python -m grader pretrained table                                  # hw/README.md's curve and figures
    python -m grader pretrained widen --fc_unit 256 [--checkpoint model-blend-<step>.pt]  # go on twice as wide
    python -m grader pretrained part                    # a run widened before its copies were parted: part them

The run is a reference run of its own (pretrained-run/<profile>/<model>-seed<N>/): the same train.py in a copy
of the handout with the solutions' model.py, validating every VALIDATION_INTERVAL steps. Stopping it loses at
most one interval; `train` again resumes from the newest checkpoint. The run folder is committed (all but its
copy of the handout: the newest checkpoint with its optimizer state, model-best.pt, the logs and
sittings.jsonl), so any clone continues the run; commit it after each sitting. A sitting may train on a larger
set than the last (`python -m data synth --size large`: default's validation and test pieces, five times its
training pieces), never on other validation pieces, and may add train.py's --augment, --detune and --noise;
sittings.jsonl in the run's folder records which data and flags each span of steps had. A sitting may also
restart the learning rate (--learning_rate): train.py's schedule, made for the homework's 10,000 steps, has
cut it to a fiftieth by step 200,000, where a run learns next to nothing from a new recipe. `blend` mixes the
weights of two of the run's checkpoints, or of one and the mean of several (grader/blend.py), into
model-blend-<step>.pt, for `export --checkpoint`; train.py keeps only its newest checkpoint, so a sitting whose
stretch is to be averaged keeps the weights of each checkpoint as it is written (--keep_weights, outside the
committed run folder: about 9 MB each). `export` writes transcriber.onnx (weights and graph, no pickled
objects; checked against torch on the test pieces; with the onset, weak onset and frame thresholds that score
best on the validation pieces in its metadata), config.json (the model, its training, the data of each span of
steps and the licences of the pianos it heard), training_log.txt and metrics.jsonl. `table` prints the validation curve
of that metrics.jsonl as the markdown table hw/README.md shows, the shipped step marked, and hw/README.md's
paragraph of test figures from peers.json, which `python bench/peers.py --pretrained --backend onnx --json
hw/pretrained/peers.json` writes after an export. `widen` lets the run go on with wider linear layers from
weights that compute what the narrower ones did (grader/widen.py); later sittings pass train.py the width.
`part` pushes apart the unit copies of a run widened before widen parted them itself.
"""
import contextlib
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

from .blend import blend_checkpoints, blend_shares
from .reference import ROOT, checkpoint_step, copy_handout, newest_checkpoint, read_run, run_folder, train
from .thresholds import choose_thresholds

RUNS = os.path.join(ROOT, "pretrained-run")    # committed: a fresh clone continues where the run stopped
OUT = os.path.join(ROOT, "hw", "pretrained")
MODEL, PROFILE, SEED = "onf_full", "cpu", 42
VALIDATION_INTERVAL = 2000
SITTINGS = "sittings.jsonl"   # in the run's folder: each sitting's first step and data
MADE_BY = ("widened", "parted")   # what widen and part record in the checkpoint they write, for the next sitting
MAX_MEGABYTES = 25
KEEP_EVERY_SECONDS = 5     # how often --keep_weights looks for a new checkpoint (a GPU writes one a minute)
TABLE_EVERY = 8000         # steps between the columns of the README's validation curve (the last step is added)


def train_pretrained(steps, threads, data_path, runs=RUNS, flags=(), learning_rate=None, keep_weights=None):
    """Train (or continue) the run until `steps`; `flags`: train.py flags of this sitting (--augment);
    `learning_rate`: the rate this sitting starts from (train.py's -lr for a new run; a resumed run's is
    restarted at it in its newest checkpoint, then decays as train.py decays it); `keep_weights`: a folder
    where the weights of every checkpoint the sitting starts from or writes are kept (checkpoint_weights_kept)."""
    folder = run_folder(PROFILE, MODEL, SEED, runs)
    logdir = os.path.join(folder, "log")
    checkpoint = newest_checkpoint(logdir)
    width = checkpoint_width(checkpoint) if checkpoint else None
    if width:                                               # widened part way (widen_pretrained)
        flags = [*flags, "--fc_unit", str(width)]
    record_sitting(folder, data_path, flags, learning_rate)
    if learning_rate is not None and checkpoint:
        restart_learning_rate(checkpoint, learning_rate)
    elif learning_rate is not None:
        flags = [*flags, "--learning_rate", str(learning_rate)]
    with checkpoint_weights_kept(logdir, keep_weights):
        return train(PROFILE, MODEL, SEED, steps, VALIDATION_INTERVAL, data_path, runs, test=False,
                     threads=threads, flags=list(flags))


def checkpoint_width(path):
    """The fc_unit of the run's checkpoint at `path` where it is not the profile's (the run was widened), else None."""
    import torch
    from train import PROFILES                      # the handout's, on the path through .thresholds
    fc_unit = torch.load(path, map_location="cpu", weights_only=True)["fc_unit"]
    return fc_unit if fc_unit != PROFILES[PROFILE]["fc_unit"] else None


def widen_pretrained(fc_unit, runs=RUNS, checkpoint="model-best.pt"):
    """Go on training the run `fc_unit` wide (grader/widen.py): the weights of `checkpoint` (a name in the log
    folder, e.g. model-blend-<step>.pt, or a path), widened, take the newest checkpoint's place (at its step, with a
    fresh optimizer at the rate it had; the newest is kept as model-<step>-fc<width>.pt). Sittings after it train
    at that width (train.py --fc_unit, recorded in sittings.jsonl); model-best.pt is then chosen among the wider
    model's weights. Returns the checkpoint's path."""
    import torch
    from .hidden_tests import load_solutions
    from .widen import widened_checkpoint
    folder = run_folder(PROFILE, MODEL, SEED, runs)
    logdir = os.path.join(folder, "log")
    newest = newest_checkpoint(logdir)
    source = checkpoint if os.path.exists(checkpoint) else os.path.join(logdir, checkpoint)
    if not newest or not os.path.exists(source):
        sys.exit(f"no {source if newest else 'checkpoint in ' + logdir} to widen: train first "
                 "(python -m grader pretrained train)")
    last = torch.load(newest, map_location="cpu", weights_only=True)
    weights = torch.load(source, map_location="cpu", weights_only=True)
    if (weights["model_type"], weights["cnn_unit"]) != (last["model_type"], last["cnn_unit"]):
        sys.exit(f"error: {source} holds another model than the run's {newest}")
    rate = last["optimizer_state_dict"]["param_groups"][0]["lr"]
    optimizer = torch.optim.Adam(load_solutions().MODELS[MODEL](last["cnn_unit"], fc_unit).parameters(), rate)
    try:
        narrow = {**last, "model_state_dict": weights["model_state_dict"], "fc_unit": weights["fc_unit"]}
        wide = widened_checkpoint(narrow, fc_unit, optimizer.state_dict(), source=os.path.basename(source))
    except ValueError as error:
        sys.exit(f"error: {error}")
    take_newest_place(newest, wide, kept_as=f"-fc{last['fc_unit']}")
    print(f"{newest}: the weights of {os.path.basename(source)}, {weights['fc_unit']} -> {fc_unit} units wide, "
          f"at step {last['step']}, learning rate {rate:.3g}")
    return newest


def part_pretrained(runs=RUNS, noise=None):
    """Part the unit copies of a widened run's newest checkpoint (grader/widen.py parted_state), in place, at its
    step and with its optimizer state; the checkpoint as it was is kept as model-<step>-unparted.pt. The next
    sitting records it (record_sitting). Returns the checkpoint's path."""
    import torch
    from .widen import PARTING_NOISE, parted_state
    noise = PARTING_NOISE if noise is None else noise
    logdir = os.path.join(run_folder(PROFILE, MODEL, SEED, runs), "log")
    newest = newest_checkpoint(logdir)
    if not newest or not checkpoint_width(newest):
        sys.exit(f"error: {newest or 'no checkpoint in ' + logdir} is not of a widened run, whose linear units come "
                 "in copies: only those can be parted (python -m grader pretrained widen first)")
    checkpoint = torch.load(newest, map_location="cpu", weights_only=True)
    step = checkpoint["step"]
    parted = {**checkpoint, "model_state_dict": parted_state(checkpoint["model_state_dict"], noise, seed=step),
              "parted": {"noise": noise, "at_step": step}}
    take_newest_place(newest, parted, kept_as="-unparted")
    print(f"{newest}: the copies of its {checkpoint['fc_unit']} linear units parted (noise {noise:g}) at step {step}")
    return newest


def take_newest_place(newest, checkpoint, kept_as):
    """Write `checkpoint` where the run's newest checkpoint was, keeping that one as model-<step><kept_as>.pt, a
    name train skips (through a temporary file: an interrupted write leaves the old one)."""
    import torch
    torch.save(checkpoint, newest + ".part")
    os.replace(newest, newest.removesuffix(".pt") + f"{kept_as}.pt")
    os.replace(newest + ".part", newest)


@contextlib.contextmanager
def checkpoint_weights_kept(logdir, into):
    """While the block runs, keep_checkpoint_weights every KEEP_EVERY_SECONDS, and once before and after it;
    nothing when `into` is None."""
    if into is None:
        yield
        return
    finished = threading.Event()

    def keep_until_finished():
        while not finished.wait(KEEP_EVERY_SECONDS):
            keep_checkpoint_weights(logdir, into)
    keeper = threading.Thread(target=keep_until_finished, daemon=True)
    keep_checkpoint_weights(logdir, into)
    keeper.start()
    try:
        yield
    finally:
        finished.set()
        keeper.join()
        keep_checkpoint_weights(logdir, into)      # the last checkpoint, written as the block ended


def keep_checkpoint_weights(logdir, into):
    """Copy the weights of each model-<step>.pt in `logdir` that `into` lacks (without the optimizer state,
    which only resuming needs): train.py deletes the one before as it writes the next (its --keep_last 1), and
    `blend` can average a stretch of them. train.py writes each file whole (through a temporary name)."""
    import torch
    os.makedirs(into, exist_ok=True)
    for path in glob.glob(os.path.join(logdir, "model-*.pt")):
        kept = os.path.join(into, os.path.basename(path))
        if checkpoint_step(path) is None or os.path.exists(kept):
            continue
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:        # deleted since the listing: train.py had written a newer one
            continue
        weights = {key: value for key, value in checkpoint.items() if key not in ("optimizer_state_dict", "elapsed")}
        torch.save(weights, kept + ".part")
        os.replace(kept + ".part", kept)


def restart_learning_rate(checkpoint_path, learning_rate):
    """Set the learning rate that the optimizer state in `checkpoint_path` resumes with. train.py's StepLR
    multiplies the optimizer's current rate by 0.98 every 1,000 steps, so the decay goes on from there. The
    rate it had is kept in sittings.jsonl (record_sitting)."""
    import torch
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    for group in checkpoint["optimizer_state_dict"]["param_groups"]:
        group["lr"] = learning_rate
    torch.save(checkpoint, checkpoint_path + ".part")
    os.replace(checkpoint_path + ".part", checkpoint_path)      # an interrupted write leaves the old one


def record_sitting(folder, data_path, flags=(), learning_rate=None):
    """Append to the run's sittings.jsonl the step a sitting starts from, the data it trains on, its
    train.py flags and, when it restarts the learning rate, the rate before and after: a run may move to a
    larger data set part way (its validation pieces must stay the same for the curve to mean one thing),
    start augmenting, or learn faster again.

    A sitting that changes the recipe (other data or flags) starts a new best: model-best.pt is renamed
    model-best-until-<step>.pt, so what train.py keeps, and `export` ships, is chosen among the weights of
    the newest recipe. The validation pieces are played on the pianos of default's training pieces; a recipe
    that adds pianos trades a little on them for pianos they do not hold, and a best kept from before the
    change would stand for the old recipe however well the new one does elsewhere. A restarted learning rate
    alone keeps the best: the same data, validated alike, so a new best has to beat it."""
    log = os.path.join(folder, "log")
    checkpoint = newest_checkpoint(log)
    step = checkpoint_step(checkpoint) if checkpoint else 0
    data = data_identity(data_path)
    path = os.path.join(folder, SITTINGS)
    if checkpoint and os.path.exists(path):
        with open(path) as f:
            before = json.loads(f.read().splitlines()[-1])
        if before["data"]["validation sha256"] != data["validation sha256"]:
            sys.exit(f"error: {data_path} has other validation pieces than {before['data']['path']}, which this "
                     "run validated on so far; its curve would change meaning. Train on a set built with the same "
                     "seed (every --size shares them), or start a new run folder.")
        best = os.path.join(log, "model-best.pt")
        if (before["data"], before.get("flags", [])) != (data, list(flags)) and os.path.exists(best):
            os.replace(best, os.path.join(log, f"model-best-until-{step}.pt"))
    record = {"from_step": step, "data": data, "flags": list(flags)}
    if checkpoint:
        import torch
        resumed = torch.load(checkpoint, map_location="cpu", weights_only=True)
        record.update({key: resumed[key] for key in MADE_BY if key in resumed})    # widen or part wrote it
    if learning_rate is not None:
        rate = resumed["optimizer_state_dict"]["param_groups"][0]["lr"] if checkpoint else None
        record["learning rate"] = [rate, learning_rate]
    os.makedirs(folder, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def data_identity(data_path):
    """Where a data set lies, the command and builder version that made it (for a synthesised one; the same
    command makes other pieces after a builder change) and its data.json's sha256."""
    if not os.path.exists(os.path.join(data_path, "data.json")):
        sys.exit(f"error: no data set at {data_path} (no data.json): build it first, e.g. "
                 f"python -m data synth --size large --out {data_path}")
    with open(os.path.join(data_path, "data.json"), "rb") as f:
        raw = f.read()
    validation = [r for r in json.loads(raw) if r["split"] == "validation"]
    settings = os.path.join(data_path, ".build", "settings.json")
    build, version = None, None
    if os.path.exists(settings):
        with open(settings) as f:
            made = json.load(f)
        build, version = f"python -m data synth --size {made['size']} --seed {made['seed']}", made["build_version"]
    return {"path": os.path.relpath(os.path.abspath(data_path), ROOT), "build": build, "build version": version,
            "data.json sha256": hashlib.sha256(raw).hexdigest(),
            "validation sha256": hashlib.sha256(json.dumps(validation, sort_keys=True).encode()).hexdigest()}


def pianos_heard(data_path):
    """The licence lines of the pianos of the training pieces of `data_path` (data/render.py)."""
    from data.render import PIANOS
    with open(os.path.join(data_path, "data.json")) as f:
        names = {r.get("piano") for r in json.load(f) if r["split"] == "train"}
    return [PIANOS[name].licence for name in PIANOS if name in names]


def composition(data_path):
    """Hours, pianos, rooms and sources per split (data.synth.describe), a line each."""
    from data.synth import describe
    with open(os.path.join(data_path, "data.json")) as f:
        return describe(json.load(f)).splitlines()


def data_history(folder, last_step, data_path):
    """The data and train.py flags of each span of steps, from sittings.jsonl (consecutive sittings with the
    same data and flags joined, unless the later one restarted the learning rate, or started from weights
    widened or parted: its span says from what rate to what, or what was done); a run from before the record
    was kept is taken to have trained on `data_path` throughout."""
    path = os.path.join(folder, SITTINGS)
    sittings = []
    if os.path.exists(path):
        with open(path) as f:
            sittings = [json.loads(line) for line in f]
    if not sittings:
        sittings = [{"from_step": 0, "data": data_identity(data_path)}]
    spans = []
    for sitting in sittings:
        flags = sitting.get("flags", [])
        events = {key: sitting[key] for key in ("learning rate", *MADE_BY) if key in sitting}
        if spans and (spans[-1]["data"], spans[-1]["flags"]) == (sitting["data"], flags) and not events:
            continue
        if spans:
            spans[-1]["steps"][1] = sitting["from_step"]
        spans.append({"steps": [sitting["from_step"], None], "data": sitting["data"], "flags": flags, **events})
    spans[-1]["steps"][1] = last_step
    described = []
    for span in spans:                     # the composition too, where that data set is here, unchanged
        here = os.path.join(ROOT, span["data"]["path"])
        unchanged = os.path.exists(os.path.join(here, "data.json")) and data_identity(here) == span["data"]
        described.append({"steps": span["steps"], **span["data"], "flags": span["flags"],
                          **{k: span[k] for k in ("learning rate", *MADE_BY) if k in span},
                          **({"composition": composition(here)} if unchanged else {})})
    return described


def earlier_compositions_kept(history, out=OUT):
    """The spans of data_history, each whose data set is no longer here (rebuilt since, or elsewhere) with the
    composition that the export before recorded for it in out/config.json."""
    path = os.path.join(out, "config.json")
    if not os.path.exists(path):
        return history
    with open(path) as f:
        recorded = {span["data.json sha256"]: span["composition"] for span in json.load(f).get("data", [])
                    if "composition" in span}
    return [{**span, "composition": recorded[span["data.json sha256"]]}
            if "composition" not in span and span["data.json sha256"] in recorded else span for span in history]


def shipped_checkpoint(runs=RUNS, out=OUT):
    """The run's checkpoint of the weights exported to `out` (model-best.pt, a model-best-until-*.pt once a
    later recipe started a new best, or a blend: model-blend-<step>.pt, or model-blend.pt as the first was
    named), or None: a sitting may find a new best without a new export."""
    import torch
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    log = os.path.join(run_folder(PROFILE, MODEL, SEED, runs), "log")
    kept = glob.glob(os.path.join(log, "model-best*.pt")) + glob.glob(os.path.join(log, "model-blend*.pt"))
    for path in sorted(kept):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if (checkpoint["step"], checkpoint.get("blend")) == (config["step"], config.get("blend")):
            return path
    return None


def blend_pretrained(checkpoints, weights, data_path, runs=RUNS):
    """model-blend-<step>.pt in the run's log folder: the best mix of the earliest of `checkpoints` (file
    names in the log folder, or paths) with the mean of the others (grader/blend.py); returns its checkpoint
    dictionary."""
    folder = run_folder(PROFILE, MODEL, SEED, runs)
    logdir = os.path.join(folder, "log")
    paths = [name if os.path.exists(name) else os.path.join(logdir, name) for name in checkpoints]
    for path in paths:
        if not os.path.exists(path):
            sys.exit(f"no {path}: name two or more checkpoints of {logdir} (model-best.pt, model-best-until-*.pt, "
                     "model-<step>.pt) or their paths")
    if len(paths) < 2:
        sys.exit("blend needs two or more checkpoints: the earliest is mixed with the mean of the others")
    copy_handout(os.path.join(folder, "hw"))
    path, blended = blend_checkpoints(paths, weights, data_path, os.path.join(folder, "hw"), logdir)
    mean = blended["blend"].get("later_mean_of")
    print(f"wrote {path}: weights {blended['blend']['weights']} of steps "
          f"{blended['blend']['steps']}" + (f", the later the mean of steps {mean}" if mean else ""))
    return blended


def export_pretrained(data_path, runs=RUNS, out=OUT, checkpoint="model-best.pt"):
    """hw/pretrained/ from the run's model-best.pt (or another checkpoint of its log folder, such as
    model-blend-<step>.pt); returns the ONNX file's path."""
    folder = run_folder(PROFILE, MODEL, SEED, runs)
    logdir = os.path.join(folder, "log")
    best = os.path.join(logdir, checkpoint)
    if not os.path.exists(best):
        sys.exit(f"no {best}: train first (python -m grader pretrained train)")
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "transcriber.onnx")
    copy_handout(os.path.join(folder, "hw"))                     # today's export.py, with the model it needs
    subprocess.run([sys.executable, "export.py", best, "--onnx", onnx_path, "--data_path", os.path.abspath(data_path)],
                   cwd=os.path.join(folder, "hw"), check=True)
    if os.path.exists(os.path.join(out, "peers.json")):           # it measured the transcriber just replaced
        os.remove(os.path.join(out, "peers.json"))
    megabytes = os.path.getsize(onnx_path) / 2 ** 20
    if megabytes > MAX_MEGABYTES:
        sys.exit(f"{onnx_path} takes {megabytes:.1f} MB, over the {MAX_MEGABYTES} MB the repository allows")
    from export import OnnxModel, write_metadata
    thresholds = choose_thresholds(OnnxModel(onnx_path, threads=2), data_path)
    write_metadata(onnx_path, thresholds)
    print(f"thresholds chosen on the validation pieces: {thresholds}")
    import torch
    best_checkpoint = torch.load(best, weights_only=True)
    rows, config = read_run(logdir)
    history = earlier_compositions_kept(data_history(folder, rows[-1]["step"], data_path), out)
    flags = history[-1]["flags"]          # less a widened run's --fc_unit: train_pretrained reads it from the checkpoint
    flags = [flag for i, flag in enumerate(flags) if "--fc_unit" not in (flag, flags[i - 1] if i else None)]
    description = {
        "model_type": MODEL, "cnn_unit": best_checkpoint["cnn_unit"], "fc_unit": best_checkpoint["fc_unit"],
        "step": best_checkpoint["step"], "checkpoint": checkpoint,
        **({"validation_note_f1": round(best_checkpoint["note_f1"], 4)} if "note_f1" in best_checkpoint else {}),
        **{key: best_checkpoint[key] for key in ("blend", "validation") if key in best_checkpoint},
        "thresholds": {**thresholds, "chosen_on": "the validation pieces (stored in transcriber.onnx's metadata)"},
        "trained_steps": rows[-1]["step"], "training_hours": round(rows[-1]["elapsed"] / 3600, 2),
        "training": {k: config[k] for k in ("args", "python", "torch", "numpy", "device", "cpu_threads",
                                            "git_commit", "command") if k in config},
        "continue_with": f"python -m grader pretrained train --steps {rows[-1]['step'] + 50000} "
                         f"--threads {config['args']['threads']} --keep_weights runs/stretch "
                         f"--data_path {history[-1]['path']}" + "".join(f" {flag}" for flag in flags),
        "data": history, "pianos_heard": pianos_heard(data_path),
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(description, f, indent=1)
    shutil.copyfile(os.path.join(logdir, "console.log"), os.path.join(out, "training_log.txt"))
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return onnx_path


def curve_table(out=OUT, every=TABLE_EVERY):
    """The validation curve of an export (note and frame F1 at thresholds 0.5) as a markdown table: every
    `every` steps, the last step, and the step whose weights were shipped (marked; for a blend, its two
    steps, each with its weight, the later one with the stretch it is the mean of, if it is; an earlier end that
    was itself a blend, its own steps)."""
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    shares = blend_shares(config["blend"]) if "blend" in config else [(config["step"], 1, None)]
    shipped = {step: (weight, mean) for step, weight, mean in shares}

    def mark(step):
        if step not in shipped:
            return ""
        weight, mean = shipped[step]
        if mean:
            return f" (shipped, x{weight:g} in the mean of {mean[0]}-{step})"
        if len(shipped) == 1:
            return " (shipped)"
        return f" (shipped, x{weight:g})"
    shown = [row for row in rows if row["step"] % every == 0 or row["step"] in shipped or row is rows[-1]]
    steps = [str(row["step"]) + mark(row["step"]) for row in shown]
    lines = ["| step | " + " | ".join(steps) + " |", "|---|" + "---|" * len(shown)]
    for name, key in [("note F1", "metric/note/f1"), ("frame F1", "metric/frame/frame_f1")]:
        lines.append(f"| {name} | " + " | ".join(f"{row[key]:.3f}" for row in shown) + " |")
    return "\n".join(lines)


def figures_paragraph(out=OUT, kit="pretrained onnx", peer="basic-pitch"):
    """hw/README.md's paragraph of the shipped transcriber's test figures, from bench/peers.py's peers.json."""
    from data.render import UNSEEN_PIANO
    from data.rooms import HELD_OUT_FAMILY
    with open(os.path.join(out, "peers.json")) as f:
        figures = json.load(f)
    groups = figures["groups"]
    densest = next(label for label in groups if label.startswith("densest"))

    def pair(label, metric="note F1"):
        return groups[label][metric][kit], groups[label][metric][peer]
    overall, piano, room, dense = (pair(label) for label in ("all", "piano " + UNSEEN_PIANO,
                                                             "room family " + HELD_OUT_FAMILY, densest))
    offsets = pair("all", "note-with-offsets F1")
    low, middle, high = (figures["registers"][name]["recall"] for name in ("A0-B1", "C4-B4", "C6-C8"))
    speed = {name: round(figures["speed"][name]["seconds of audio per second"]) for name in (kit, peer)}
    text = (f"On the {groups['all']['pieces']} test pieces (the course kit's `bench/peers.py`, {figures['threads']} "
            f"cores) it scores note F1 {overall[0]:.3f} where basic-pitch, a general-purpose transcriber, scores "
            f"{overall[1]:.3f}; {piano[0]:.3f} (basic-pitch {piano[1]:.3f}) on the piano it never heard, "
            f"{room[0]:.3f} ({room[1]:.3f}) in the room family it never heard, and {dense[0]:.3f} ({dense[1]:.3f}) "
            f"on the {groups[densest]['pieces']} densest pieces; note-with-offsets F1 {offsets[0]:.3f} "
            f"({offsets[1]:.3f}). It finds {low[kit]:.2f} of the notes from A0 to B1, {middle[kit]:.2f} from C4 to "
            f"B4 and {high[kit]:.2f} from C6 up (basic-pitch {low[peer]:.2f}, {middle[peer]:.2f} and "
            f"{high[peer]:.2f}). It transcribes {speed[kit]} s of audio per second (basic-pitch {speed[peer]}).")
    detuned = [label for label in groups if label.startswith("all, played ") and not label.endswith("retuned")]
    if detuned:                                               # bench/peers.py --detune
        cents = [float(label.split("played ")[1].split(" cents")[0]) for label in detuned]
        played, retuned = [pair(label) for label in detuned], [pair(label + ", retuned") for label in detuned]

        def both(values):
            return " and ".join(values)
        text += (f" Played {both(f'{abs(c):g} cents ' + ('sharp' if c > 0 else 'flat') for c in cents)}, as pianos "
                 f"out of tune play them, the test pieces score {both(f'{p[0]:.3f}' for p in played)} (basic-pitch "
                 f"{both(f'{p[1]:.3f}' for p in played)}), and {both(f'{r[0]:.3f}' for r in retuned)} once "
                 "`transcribe.py` plays them back in tune.")
    noisy = [label for label in groups if label.startswith("all, pink noise ")]
    if noisy:                                                 # bench/peers.py --noise
        decibels = [label.split("pink noise ")[1].split(" dB")[0] for label in noisy]
        kit_scores, peer_scores = zip(*(pair(label) for label in noisy))
        text += (f" With pink noise {' and '.join(decibels)} dB under them, as in a noisy room, they score "
                 f"{' and '.join(f'{f1:.3f}' for f1 in kit_scores)} "
                 f"(basic-pitch {' and '.join(f'{f1:.3f}' for f1 in peer_scores)}).")
    return textwrap.fill(text, width=110)


def readme_figures(out=OUT):
    """What hw/README.md shows of the shipped transcriber: its validation curve, then its test figures."""
    peers = os.path.join(out, "peers.json")
    if not os.path.exists(peers):
        return (curve_table(out) + f"\n\n(no {peers} yet: python bench/peers.py "
                "--pretrained --backend onnx --json hw/pretrained/peers.json measures the test figures)")
    return curve_table(out) + "\n\n" + figures_paragraph(out)
