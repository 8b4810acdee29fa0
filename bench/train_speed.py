"""Seconds per training step of every model type under each profile (solutions' models, real crops).

    python bench/train_speed.py [--profiles cpu full] [--steps 10] [--data data/default] [--amp off] [--compile]

A step is what train.py does: a forward pass on a batch of random crops (in mixed precision where train.py
uses it: --amp as train.py's), the losses of evaluate.losses, backward, per-parameter clipping and an Adam
update. Prints s/step and the time 5000 steps would take.
"""
import argparse
import os
import sys
import time
import types

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "solutions"), os.path.join(ROOT, "hw")]
from constants import AMP_MODES  # noqa: E402
from dataset import MAESTRO_small  # noqa: E402
from evaluate import losses  # noqa: E402
from model import MODELS  # noqa: E402
from train import PROFILES, mixed_precision  # noqa: E402


def seconds_per_step(model_type, profile, steps, data, device, amp="off", compile_model=False):
    settings = PROFILES[profile]
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = device.startswith("cuda")
    model = MODELS[model_type](settings["cnn_unit"], settings["fc_unit"]).to(device)
    train_model = torch.compile(model) if compile_model else model
    amp_dtype = mixed_precision(types.SimpleNamespace(device=device, amp=amp))
    scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)
    optimizer = torch.optim.Adam(model.parameters(), 6e-4)
    dataset = MAESTRO_small(data, groups=["train"], sequence_length=settings["sequence_length"], seed=0)
    items = [dataset[i] for i in range(settings["batch_size"])]
    batch = {key: torch.stack([item[key] for item in items]).to(device)
             for key in ("audio", "frame", "onset", "offset", "velocity")}

    def step():
        with torch.autocast(device.split(":")[0], dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = sum(losses(train_model(batch["audio"]), batch).values())
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        for parameter in model.parameters():
            torch.nn.utils.clip_grad_norm_([parameter], 3.0)
        scaler.step(optimizer)
        scaler.update()

    step()                                   # warm-up (and compiling, with --compile)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["cpu", "full"], choices=list(PROFILES))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps (the full profile on CPU uses 2)")
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "default"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", choices=AMP_MODES, default="off", help="as train.py's --amp")
    parser.add_argument("--compile", action="store_true", help="as train.py's --compile (the warm-up compiles)")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    precision = mixed_precision(args)
    print(f"device: {name}; torch {torch.__version__}; "
          f"{'mixed precision ' + str(precision).removeprefix('torch.') if precision else 'float32'}"
          + ("; compiled" if args.compile else ""))
    for profile in args.profiles:
        settings = PROFILES[profile]
        steps = 2 if profile == "full" and args.device == "cpu" else args.steps
        print(f"profile {profile}: batch {settings['batch_size']} x {settings['sequence_length']} samples, "
              f"cnn_unit {settings['cnn_unit']}, fc_unit {settings['fc_unit']}")
        for model_type in args.models:
            seconds = seconds_per_step(model_type, profile, steps, args.data, args.device, args.amp, args.compile)
            print(f"  {model_type:>8}: {seconds:6.3f} s/step, 5000 steps = {seconds * 5000 / 60:6.1f} min")


if __name__ == "__main__":
    main()
