"""The only grader code that runs beside student code: inside the sandbox, on the student's side.

    python probe.py checks HANDOUT MODEL_TYPE IN OUT      the hidden tests' measurements of one model
    python probe.py transcribe HANDOUT CHECKPOINT IN OUT  a checkpoint's probabilities on test audio

It imports the student's model.py from HANDOUT, reads its inputs from IN (task.json and arrays.npz, no
pickles), and writes what it measured to OUT: one JSON line per check in results.jsonl, as soon as the
check ends (so a later hang or crash costs only the checks after it), and arrays in <check>.npz.
It judges nothing: the grader, outside the sandbox, compares the measurements with the solutions.
The parent also imports describe() and outputs_summary() from here, so both sides measure the same way;
the training check uses the handout's own loss (evaluate.losses), as train.py does.
"""
import json
import os
import sys
import time
import traceback

import numpy as np

CLASS_NAMES = {"baseline": "Transcriber", "rnn": "Transcriber_RNN", "crnn": "Transcriber_CRNN",
               "onf": "Transcriber_ONF"}


def describe(model):
    """Parameter count and the layout of every direct child layer, as plain JSON."""
    layers = {}
    for name, layer in model.named_children():
        entry = {"type": type(layer).__name__, "parameters": sum(p.numel() for p in layer.parameters())}
        for field in ["input_size", "hidden_size", "num_layers", "bidirectional", "batch_first",
                      "in_features", "out_features"]:
            if hasattr(layer, field):
                entry[field] = getattr(layer, field)
        layers[name] = entry
    return {"parameters": sum(p.numel() for p in model.parameters()), "layers": layers}


def outputs_summary(outputs):
    import torch
    if not isinstance(outputs, (tuple, list)):
        return {"type": type(outputs).__name__}
    return {"type": type(outputs).__name__, "shapes": [list(o.shape) if isinstance(o, torch.Tensor) else None
                                                       for o in outputs]}


class Recorder:
    def __init__(self, out):
        self.out = out
        self.file = open(os.path.join(out, "results.jsonl"), "a")

    def run(self, name, check):
        start = time.monotonic()
        try:
            data, arrays = check()
            row = {"check": name, "ok": True, "data": data}
            if arrays:
                np.savez(os.path.join(self.out, f"{name}.npz"), **arrays)
        except BaseException as error:                      # a student's SystemExit is a failure too
            last = traceback.extract_tb(error.__traceback__)
            where = next((f"{os.path.basename(f.filename)} line {f.lineno}" for f in reversed(last)
                          if f.filename.endswith("model.py")), None)
            row = {"check": name, "ok": False,
                   "error": f"{type(error).__name__}: {str(error)[:500]}" + (f" ({where})" if where else "")}
        row["seconds"] = round(time.monotonic() - start, 3)
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        return row["ok"]


def checks(handout, model_type, inputs, out):
    import torch
    task = json.load(open(os.path.join(inputs, "task.json")))
    arrays = dict(np.load(os.path.join(inputs, "arrays.npz"), allow_pickle=False))
    audio = torch.from_numpy(arrays["audio"])
    frame_label, onset_label = torch.from_numpy(arrays["frame"]), torch.from_numpy(arrays["onset"])
    record = Recorder(out)
    module = {}

    def load():
        sys.path.insert(0, handout)
        import model
        module["class"] = getattr(model, CLASS_NAMES[model_type])
        return {}, None

    if not record.run("import", load):
        return
    Model = module["class"]
    small = task["small"]

    def build():
        sizes = []
        for cnn_unit, fc_unit in task["sizes"]:
            torch.manual_seed(0)
            sizes.append(describe(Model(cnn_unit, fc_unit)))
        return {"sizes": sizes}, None

    def shapes():
        torch.manual_seed(0)
        model = Model(*small).eval()
        with torch.no_grad():
            return {"lengths": [outputs_summary(model(audio[:1, :n])) for n in task["lengths"]]}, None

    def transplant():
        model = Model(*small)
        state = {key[len("state/"):]: torch.from_numpy(value) for key, value in arrays.items()
                 if key.startswith("state/")}
        model.load_state_dict(state, strict=True)
        model.eval()
        with torch.no_grad():
            frame_logit, onset_logit = model(audio)[:2]
        return {}, {"frame": frame_logit.numpy(), "onset": onset_logit.numpy()}

    def gradient():
        torch.manual_seed(0)
        model = Model(*small).eval()
        frame_logit = model(audio)[0]
        torch.nn.functional.binary_cross_entropy_with_logits(frame_logit, frame_label).backward()
        norms = {name: float(sum(p.grad.abs().sum() for p in layer.parameters() if p.grad is not None))
                 for name, layer in model.named_children()}
        return {"gradient": norms}, None

    def training():
        from evaluate import losses
        labels = {"frame": frame_label, "onset": onset_label}
        torch.manual_seed(task["seed"])
        model = Model(*small).train()
        optimizer = torch.optim.Adam(model.parameters(), task["learning_rate"])
        history = []
        for _ in range(task["steps"]):
            loss = sum(losses(model(audio)[:2], labels).values())      # frame + onset, as graded
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        return {"losses": history}, None

    def determinism():
        results = {}
        for run in range(2):
            torch.manual_seed(task["seed"])
            model = Model(*small).eval()
            with torch.no_grad():
                results[f"frame{run}"] = model(audio)[0].numpy()
        return {}, results

    for name, check in [("build", build), ("shapes", shapes), ("transplant", transplant),
                        ("gradient", gradient), ("training", training), ("determinism", determinism)]:
        if name in task["checks"]:
            record.run(name, check)


def transcribe(handout, checkpoint, inputs, out):
    """Frame and onset probabilities of every listed audio file, as float16 arrays."""
    sys.path.insert(0, handout)
    import torch
    from dataset import read_audio
    from evaluate import load_model
    from transcribe import predict
    task = json.load(open(os.path.join(inputs, "task.json")))
    record = Recorder(out)
    loaded = {}

    def load():
        model, saved = load_model(checkpoint)
        loaded["model"] = model
        return {"model_type": saved["model_type"], "cnn_unit": saved["cnn_unit"], "fc_unit": saved["fc_unit"]}, None

    if not record.run("load", load):
        return
    torch.set_grad_enabled(False)
    for index, path in enumerate(task["audio"]):
        def piece():
            audio = read_audio(path).astype(np.float32) / 32768
            frame, onset, _ = predict(loaded["model"], audio, "cpu")
            return {}, {"frame": frame.astype(np.float16), "onset": onset.astype(np.float16)}
        record.run(f"piece{index:04d}", piece)


if __name__ == "__main__":
    command, handout, what, inputs, out = sys.argv[1:6]
    {"checks": checks, "transcribe": transcribe}[command](handout, what, inputs, out)
