"""Train a transcription model, validate it as it learns, and test it at the end.

    python train.py --debug                      # 100 steps of the CNN baseline on 10 pieces
    python train.py --model_type crnn            # a full run; on a machine without CUDA, the cpu profile

Everything lands in the log folder (runs/exp_<date>-<time> by default): the console log, metrics.jsonl
(one row per validation), config.json (flags, versions, device, seed, git commit), the newest checkpoint
model-<step>.pt (--keep_last N keeps more), model-best.pt (the best validation note F1 so far) and, after
the test, results.txt.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from augment import random_equalizer, random_noise, random_tuning
from constants import AMP_MODES, DEFAULT_DATA_PATH, DETUNE_CENTS, SEQUENCE_LENGTH
from dataset import DataError, MAESTRO_small, allocate_batch
from evaluate import evaluate, losses, report_lines
from model import MODELS

# `full` is the 2020 homework's configuration (meant for a GPU). `cpu` keeps every architecture but
# trains on smaller batches of shorter crops with narrower convolutions, so 5000 steps of any model fit
# in half an hour on 2 cores (measured with bench/train_speed.py: 0.07-0.28 s per step).
PROFILES = {
    "full": dict(batch_size=16, sequence_length=SEQUENCE_LENGTH, cnn_unit=48, fc_unit=256),
    "cpu": dict(batch_size=2, sequence_length=81920, cnn_unit=16, fc_unit=128),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", default="baseline", type=str.lower, choices=list(MODELS))
    parser.add_argument("--profile", choices=list(PROFILES), default=None,
                        help="full (default with CUDA) or cpu (default without); flags below override it")
    parser.add_argument("-v", "--sequence_length", type=int, default=None, help="samples per training crop")
    parser.add_argument("-lr", "--learning_rate", type=float, default=6e-4)
    parser.add_argument("-b", "--batch_size", type=int, default=None)
    parser.add_argument("-i", "--iterations", type=int, default=10000)
    parser.add_argument("-vi", "--validation_interval", type=int, default=1000)
    parser.add_argument("-wd", "--weight_decay", type=float, default=0)
    parser.add_argument("-cnn", "--cnn_unit", type=int, default=None)
    parser.add_argument("-fc", "--fc_unit", type=int, default=None)
    parser.add_argument("--save_midi", action="store_true", help="write the test transcriptions as MIDI")
    parser.add_argument("--skip_test", action="store_true", help="stop after the last validation (no test split)")
    parser.add_argument("--debug", action="store_true", help="10 pieces, 100 iterations, validate every 10")
    parser.add_argument("--data_path", default=DEFAULT_DATA_PATH)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for this run (default: all cores); with several runs at once, give each "
                             "cores / runs")
    parser.add_argument("--keep_last", type=int, default=1, metavar="N",
                        help="checkpoints model-<step>.pt to keep (default 1), besides model-best.pt")
    parser.add_argument("--amp", choices=AMP_MODES, default="off",
                        help="mixed precision for training steps: on is bf16 where the GPU has it, else fp16 (bf16 "
                             "on a CPU); auto is on with CUDA only. Off by default: see README.md, Reference logs")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model for training steps: faster steps on a GPU after a minute or "
                             "two of compiling (needs a C compiler)")
    parser.add_argument("--augment", action="store_true",
                        help="pass each training crop through a random equaliser (augment.py), for pianos, rooms "
                             "and microphones the data lacks")
    parser.add_argument("--detune", action="store_true",
                        help=f"play each training crop up to {DETUNE_CENTS:g} cents sharper or flatter (augment.py), "
                             "for pianos not tuned to A = 440 Hz")
    parser.add_argument("--noise", action="store_true",
                        help="add background noise under half of the training crops (augment.py), for recordings "
                             "made in noisy rooms")
    parser.add_argument("--no_detach", action="store_true",
                        help="onf only: leave out the detach, so the frame loss trains the onset branch too (Q4)")
    parser.add_argument("--logdir", default=None)
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    args = parser.parse_args(argv)
    if args.no_detach and args.model_type != "onf":
        parser.error("--no_detach applies to --model_type onf only")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.keep_last < 1:
        parser.error("--keep_last must be at least 1: the newest checkpoint is what --resume continues from")

    if args.profile is None:
        args.profile = "full" if args.device.startswith("cuda") else "cpu"
        if args.profile == "cpu":
            print("No CUDA device: using the cpu profile (smaller batches, crops and widths; "
                  "pass --profile full for the original configuration).")
    for key, value in PROFILES[args.profile].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.debug:
        args.iterations, args.validation_interval = 100, 10
    args.logdir = args.logdir or os.path.join("runs", datetime.now().strftime("exp_%y%m%d-%H%M%S"))
    return args


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{names[0]} ({len(names)} cores)"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


def run_info(args):
    """What is needed to reproduce a run: flags, versions, device, seed and commit (with "-dirty" when
    the working tree differs from it)."""
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], capture_output=True,
                                text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or None
    except OSError:
        commit = None
    device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else cpu_name()
    return {"args": vars(args), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "device": device, "cpu_threads": torch.get_num_threads(),
            "mixed_precision": str(mixed_precision(args)).removeprefix("torch."),
            "git_commit": commit, "started": datetime.now().isoformat(timespec="seconds")}


class Tee:
    """Print to the console and to the log folder's console.log."""

    def __init__(self, path):
        self.file = open(path, "a")

    def __call__(self, *values):
        line = " ".join(str(v) for v in values)
        tqdm.write(line)
        self.file.write(line + "\n")
        self.file.flush()


def build_model(args):
    options = {"detach_onsets": False} if args.no_detach else {}
    try:
        return MODELS[args.model_type](args.cnn_unit, args.fc_unit, **options).to(args.device)
    except NotImplementedError as stub:
        sys.exit(f"model.py: {stub}. Fill it in, or train another --model_type.")
    except TypeError as error:
        if not options:
            raise
        sys.exit(f"model.py: Transcriber_ONF(cnn_unit, fc_unit, detach_onsets=False) failed ({error}); "
                 "keep the detach_onsets argument of the handout's Transcriber_ONF.")


# The layer that produces each logit, by the attribute names of the model spec (first one present).
OUTPUT_LAYERS = {"frame": ("combined_fc", "frame_fc"), "onset": ("onset_fc",), "offset": ("offset_fc",)}


def start_at_label_rates(model, rates, log):
    """Start the bias of each output layer at the log-odds of how often its label is on.

    Onsets fill about 0.2 % of the piano roll, so the first thing a model learns is to say "almost never".
    A linear layer on a CNN learns that in its bias within a few hundred steps. Behind an LSTM, the model
    learns it by driving the LSTM into saturation, where it passes almost no gradient, and then stalls
    for thousands of steps without predicting a single onset. Starting at the rate skips that detour.
    """
    for label, names in OUTPUT_LAYERS.items():
        layer = next((getattr(model, name) for name in names if hasattr(model, name)), None)
        if isinstance(layer, torch.nn.Linear) and layer.bias is not None:
            with torch.no_grad():
                rate = min(max(rates[label], 1e-4), 1 - 1e-4)       # a label never (or always) on stays finite
                layer.bias.fill_(float(np.log(rate / (1 - rate))))
        elif label != "offset":
            log(f"note: the model has no linear layer named {' or '.join(names)}, so its {label} output starts "
                "at 50 % and may stall; use the layer names of the spec in model.py.")


def mixed_precision(args):
    """The autocast dtype of a training step, or None to train in float32."""
    cuda = args.device.startswith("cuda")
    if args.amp == "off" or (args.amp == "auto" and not cuda):
        return None
    if cuda and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def seed_worker(worker_id):
    """Each DataLoader worker draws its own crops (a copied random state would repeat the same ones)."""
    info = torch.utils.data.get_worker_info()
    info.dataset.random = np.random.RandomState(info.seed % 2 ** 32)


def read_checkpoint(args):
    """The checkpoint --resume names, if it continues this run's model."""
    checkpoint = torch.load(args.resume, map_location=args.device, weights_only=True)
    saved = (checkpoint.get("model_type"), checkpoint.get("cnn_unit"), checkpoint.get("fc_unit"))
    if saved != (args.model_type, args.cnn_unit, args.fc_unit):
        sys.exit(f"{args.resume} holds a {saved[0]} model with cnn_unit={saved[1]}, fc_unit={saved[2]}; "
                 f"this run asks for {args.model_type} with cnn_unit={args.cnn_unit}, fc_unit={args.fc_unit}.")
    if "optimizer_state_dict" not in checkpoint:
        sys.exit(f"{args.resume} holds weights only (model-best.pt does); resume from a model-<step>.pt.")
    return checkpoint


def check_outputs(outputs, batch):
    """A model must return (frame_logit, onset_logit), each batch x frames x 88 (or, like the full Onsets
    and Frames, (frame_logit, onset_logit, offset_logit, velocity))."""
    expected = tuple(batch["frame"].shape)
    if not (isinstance(outputs, tuple) and len(outputs) in (2, 4)) or any(tuple(o.shape) != expected for o in outputs):
        shapes = [tuple(o.shape) for o in outputs] if isinstance(outputs, (tuple, list)) else type(outputs).__name__
        sys.exit(f"model.py: forward must return (frame_logit, onset_logit), each of shape {expected}; "
                 f"it returned {shapes}.")


def main(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    torch.backends.cudnn.benchmark = cuda             # the fastest convolution kernels for a fixed crop size
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    # The model, the checkpoint and the data come first, so that a stub or a bad file leaves no empty log folder.
    model = build_model(args)
    checkpoint = read_checkpoint(args) if args.resume else None
    train_groups = ["debug"] if args.debug else ["train"]
    train_set = MAESTRO_small(args.data_path, groups=train_groups, sequence_length=args.sequence_length,
                              seed=args.seed, random_sample=True)
    validation_set = MAESTRO_small(args.data_path, groups=["validation"], sequence_length=SEQUENCE_LENGTH,
                                   seed=args.seed, random_sample=False)
    os.makedirs(args.logdir, exist_ok=True)
    log = Tee(os.path.join(args.logdir, "console.log"))
    with open(os.path.join(args.logdir, "config.json"), "w") as f:
        json.dump(run_info(args), f, indent=1)

    optimizer = torch.optim.Adam(model.parameters(), args.learning_rate, weight_decay=args.weight_decay)
    amp_dtype = mixed_precision(args)
    scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)     # fp16 gradients need loss scaling
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000, gamma=0.98)
    step, elapsed_before = 0, 0.0
    if checkpoint:
        model.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        step, elapsed_before = checkpoint["step"], checkpoint.get("elapsed", 0.0)
        scheduler.last_epoch = step
        log(f"resumed from {args.resume} at step {step}, learning rate {optimizer.param_groups[0]['lr']:.3g}")
    precision = f", mixed precision {str(amp_dtype).removeprefix('torch.')}" if amp_dtype else ""
    log(f"{args.model_type}: {sum(p.numel() for p in model.parameters()):,} parameters, profile {args.profile}, "
        f"batch {args.batch_size} x {args.sequence_length} samples, device {args.device}, "
        f"threads {torch.get_num_threads()}{precision}" + (", compiled" if args.compile else "")
        + (", no detach" if args.no_detach else "") + (", random equalisers" if args.augment else "")
        + (", random tunings" if args.detune else "") + (", background noise" if args.noise else ""))
    if not args.resume:
        start_at_label_rates(model, train_set.label_rates(), log)
    # Each pass takes the pieces in a new order, one random crop of each. A split with fewer pieces than a
    # batch goes round its pieces more than once per pass: with drop_last, a shorter pass gives no batch at all.
    # On a GPU, two worker processes cut crops while it trains; on a CPU they would take its cores.
    shuffle = torch.Generator().manual_seed(args.seed)
    order = RandomSampler(train_set, num_samples=max(len(train_set), args.batch_size), generator=shuffle)
    loader = DataLoader(train_set, args.batch_size, sampler=order, drop_last=True, generator=shuffle,
                        num_workers=2 if cuda else 0, worker_init_fn=seed_worker, pin_memory=cuda,
                        persistent_workers=cuda)

    def batches():
        while True:
            yield from loader

    # A compiled copy shares its weights with `model`; validation keeps the plain model, whose input lengths
    # vary (a compiled one would compile again for each). Checkpoints save the plain model's weights.
    train_model = torch.compile(model) if args.compile else model

    # The equalisers, tunings and noises come from generators of their own, so the crops stay those of a run
    # without --augment, --detune and --noise; seeded with the step, so a resumed run does not replay the first
    # steps' draws.
    equalizers = torch.Generator().manual_seed(args.seed + step)
    tunings = torch.Generator().manual_seed(args.seed + step + 1_000_000)
    noises = torch.Generator().manual_seed(args.seed + step + 2_000_000)
    best_f1 = best_note_f1(args.logdir)
    started = time.time()
    progress = tqdm(range(step + 1, args.iterations + 1), initial=step, total=args.iterations, dynamic_ncols=True)
    for step, batch in zip(progress, batches()):
        batch = allocate_batch(batch, args.device)
        if args.detune:
            batch, _ = random_tuning(batch, tunings)
        if args.augment:
            batch["audio"] = random_equalizer(batch["audio"], equalizers)
        if args.noise:
            batch["audio"], _, _ = random_noise(batch["audio"], noises)
        with torch.autocast(args.device.split(":")[0], dtype=amp_dtype, enabled=amp_dtype is not None):
            outputs = train_model(batch["audio"])
            check_outputs(outputs, batch)
            loss = sum(losses(outputs, batch).values())

        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)                 # clip the true gradients, not the scaled ones
        for parameter in model.parameters():       # per-parameter clipping, as in the 2020 homework
            torch.nn.utils.clip_grad_norm_([parameter], 3.0)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        progress.set_postfix(loss=f"{loss.item():.4f}")

        if step % args.validation_interval == 0 or step == args.iterations:
            metrics = evaluate(model, validation_set, args.device)
            log(f"step {step}")
            for key, values in metrics.items():
                if key.endswith("f1") or "loss" in key:
                    log(f"{key:27} : {np.mean(values):.4f}")
            elapsed = elapsed_before + time.time() - started      # training time, across resumptions
            with open(os.path.join(args.logdir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps({"step": step, "elapsed": round(elapsed, 1),
                                    **{k: float(np.mean(v)) for k, v in metrics.items()}}) + "\n")
            save_checkpoint(model, optimizer, step, elapsed, args)
            note_f1 = float(np.mean(metrics["metric/note/f1"]))
            if note_f1 > best_f1:
                best_f1 = note_f1
                save_best(model, step, note_f1, args)

    if not args.skip_test:
        test(model, args, log)


def weights_and_config(model, step, args):
    """Weights and configuration only (no pickled objects), so torch.load(weights_only=True) reads it."""
    return {"model_state_dict": model.state_dict(), "step": step, "model_type": args.model_type,
            "cnn_unit": args.cnn_unit, "fc_unit": args.fc_unit, "profile": args.profile}


def save_checkpoint(model, optimizer, step, elapsed, args):
    """model-<step>.pt with the optimizer state, to resume from; older ones beyond --keep_last are deleted
    (about 15 MB each for the cpu profile's ONF: the Adam state is twice the weights)."""
    checkpoint = {**weights_and_config(model, step, args), "optimizer_state_dict": optimizer.state_dict(),
                  "elapsed": elapsed}
    save_whole(checkpoint, os.path.join(args.logdir, f"model-{step}.pt"))
    numbered = [m for m in (re.fullmatch(r"model-(\d+)\.pt", name) for name in os.listdir(args.logdir)) if m]
    for old in sorted(numbered, key=lambda match: int(match.group(1)))[:-args.keep_last]:
        os.remove(os.path.join(args.logdir, old.group(0)))


def save_best(model, step, note_f1, args):
    """model-best.pt: the weights with the best validation note F1 so far, for evaluate.py and transcribe.py."""
    checkpoint = {**weights_and_config(model, step, args), "note_f1": note_f1}
    save_whole(checkpoint, os.path.join(args.logdir, "model-best.pt"))


def save_whole(checkpoint, path):
    """torch.save through a temporary file, so a run stopped while saving leaves the previous file whole."""
    torch.save(checkpoint, path + ".part")
    os.replace(path + ".part", path)


def best_note_f1(logdir):
    """The note F1 of model-best.pt when a resumed run writes into a log folder that has one."""
    path = os.path.join(logdir, "model-best.pt")
    return torch.load(path, weights_only=True)["note_f1"] if os.path.exists(path) else -1.0


def test(model, args, log):
    """Whole test pieces (in --debug, their first 6.4 s), one at a time; writes results.txt (and MIDI files)."""
    sequence_length = SEQUENCE_LENGTH if args.debug else None
    test_set = MAESTRO_small(args.data_path, groups=["test"], sequence_length=sequence_length,
                             seed=args.seed, random_sample=False)
    midi_folder = os.path.join(args.logdir, "midi") if args.save_midi else None
    if midi_folder:
        os.makedirs(midi_folder, exist_ok=True)
    lines = report_lines(evaluate(model, test_set, args.device, midi_folder=midi_folder), test_set)
    with open(os.path.join(args.logdir, "results.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for line in lines:
        log(line)


if __name__ == "__main__":
    arguments = parse_args()
    try:
        main(arguments)
    except DataError as error:
        sys.exit(f"data error: {error}")
