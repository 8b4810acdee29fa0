"""Share a trained model: as ONNX (log-mel front end included, checked against torch), or as a web page.

    python export.py runs/exp_.../model-best.pt --onnx model.onnx
    python transcribe.py model.onnx song.mp3                     # then runs it through onnxruntime
    python export.py runs/exp_.../model-best.pt --web my_page    # a static page that transcribes in the browser
    python export.py --pretrained --web my_page                  # the same with the kit's pretrained model

The ONNX model takes audio (1 x samples, float32, mono at 16 kHz) and returns what the torch model returns:
frame and onset logits (and offset logits and velocity, where the model predicts them), each 1 x T x 88.
Any runtime that reads ONNX can then transcribe without PyTorch: onnxruntime here, a phone, a browser.
Before the file is written, the export runs the first --check_seconds of every test piece of --data_path
(or, without them, 30 s of noise) through both, and reports the largest difference of probabilities and
whether the notes are the same. They may differ only while that difference stays under TOLERANCE: a
frame the two put on either side of a threshold then lies within it, where rounding alone can tip it;
otherwise nothing is written.

A model may carry its own onset, weak onset and frame thresholds in the ONNX file's metadata (the
pretrained transcriber's were chosen on the validation pieces); transcribe.py and the page use them unless
told others.

--web DIR writes a folder for any static web host (try it with `python -m http.server -d DIR`): index.html
and the page's scripts from web/, the model, and ONNX Runtime Web and a MIDI writer from the npm registry at
the versions of web/package-lock.json (make setup fetches them into web/node_modules). The page decodes a
recording, runs the model in a Web Worker, reads the notes with the rules of extract_notes, draws them,
plays them and offers the MIDI file; nothing leaves the visitor's computer.

Needs the optional packages of ../requirements-onnx.txt (make setup installs them; training does not).
"""
import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from constants import DEFAULT_DATA_PATH, FRAME_THRESHOLD, HOP_SIZE, N_FFT, ONSET_THRESHOLD, SAMPLE_RATE
from evaluate import extract_notes, load_model

OUTPUT_NAMES = ["frame_logit", "onset_logit", "offset_logit", "velocity"]
THRESHOLDS = {"onset_threshold": ONSET_THRESHOLD, "frame_threshold": FRAME_THRESHOLD,  # unless the model has its own
              "weak_onset_threshold": None}
OPSET = 17
TOLERANCE = 1e-2    # of probabilities: two runtimes round about 1e-3 apart, a wrong export far more
HERE = os.path.dirname(os.path.abspath(__file__))
PRETRAINED = os.path.join(HERE, "pretrained", "transcriber.onnx")
WEB = os.path.join(HERE, "web")
PAGE_FILES = ["index.html", "app.js", "worker.js", "notes.js", "tuning.js"]
PACKAGE_FILES = ["onnxruntime-web/dist/ort.wasm.min.js", "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
                 "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "@tonejs/midi/build/Midi.js"]


def onnx_packages():
    """onnx and onnxruntime, or a one-line error that says how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        sys.exit(f"ONNX needs the optional packages ({error.name} is missing): "
                 "pip install -r ../requirements-onnx.txt (from hw/)")
    return onnx, onnxruntime


class OnnxLogMel(nn.Module):
    """model.LogMelSpectrogram in the form the ONNX exporter takes: it cannot export complex numbers, so the
    STFT returns its real and imaginary parts along a last axis of 2 (ONNX's STFT op does the same), and the
    power is the sum of their squares. The same numbers, to float32 rounding."""

    def __init__(self, front_end):
        super().__init__()
        self.register_buffer("window", front_end.window)
        self.register_buffer("mel_basis", front_end.mel_basis)

    def forward(self, audio):
        padding = (N_FFT - HOP_SIZE) // 2                      # as LogMelSpectrogram: frame t covers its hop
        stft = torch.stft(F.pad(audio, (padding, padding)), N_FFT, HOP_SIZE, window=self.window, center=False,
                          return_complex=False)
        mel = (stft ** 2).sum(-1).transpose(-1, -2) @ self.mel_basis
        return torch.log(torch.clamp(mel, min=1e-9))


def export_onnx(model, path, metadata=None):
    """Write the model (in eval mode, on CPU) as ONNX with a variable number of samples; returns the output
    names. The front end of a copy is swapped for OnnxLogMel, so the model itself is unchanged."""
    onnx, _ = onnx_packages()
    model = copy.deepcopy(model).cpu().eval()
    model.melspectrogram = OnnxLogMel(model.melspectrogram)
    audio = torch.zeros(1, 5 * SAMPLE_RATE)
    # The TorchScript exporter (dynamo=False) and return_complex=False are deprecated, but torch 2.13's new
    # exporter fails on LSTMs over a variable number of frames; the pinned torch has both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            names = OUTPUT_NAMES[:len(model(audio))]
        torch.onnx.export(model, (audio,), path, input_names=["audio"], output_names=names, opset_version=OPSET,
                          dynamic_axes={"audio": {1: "samples"}, **{name: {1: "frames"} for name in names}},
                          dynamo=False)
    write_metadata(path, metadata or {})
    return names


def write_metadata(path, metadata):
    """Set entries of an ONNX file's metadata: what the model is, and thresholds chosen for it."""
    onnx, _ = onnx_packages()
    saved = onnx.load(path)
    kept = [(entry.key, entry.value) for entry in saved.metadata_props if entry.key not in metadata]
    del saved.metadata_props[:]
    for key, value in kept + [(key, str(value)) for key, value in metadata.items()]:
        saved.metadata_props.add(key=key, value=value)
    onnx.save(saved, path)


def stored_threshold(text, default):
    """A threshold from an ONNX file's metadata: a number, "None" (not used), or `default` where it is absent."""
    if text is None:
        return default
    return None if text == "None" else float(text)


class OnnxModel:
    """An ONNX transcriber called like the torch model: audio (1 x samples tensor) in, a tuple of tensors out."""

    def __init__(self, path, threads=None):
        _, onnxruntime = onnx_packages()
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:
            sys.exit(f"{path} is not an ONNX transcriber onnxruntime can load ({type(error).__name__}: {error})")
        # Thresholds chosen on validation pieces travel in the file (the pretrained transcriber's do).
        stored = self.session.get_modelmeta().custom_metadata_map
        self.thresholds = {name: stored_threshold(stored.get(name), default) for name, default in THRESHOLDS.items()}

    def __call__(self, audio):
        outputs = self.session.run(None, {"audio": audio.detach().cpu().float().numpy()})
        return tuple(torch.from_numpy(output) for output in outputs)


def compare(model, onnx_model, recordings):
    """Largest difference of frame and onset probabilities; the recordings whose notes differ; and those whose
    notes differ but whose probabilities stay within TOLERANCE: a frame that one runtime puts above a threshold
    and the other below lies within their difference of it, so there rounding alone tipped it."""
    largest, differing, tipped = 0.0, [], []
    for name, audio in recordings:
        batch = torch.from_numpy(audio)[None]
        with torch.no_grad():
            frame_torch, onset_torch = (torch.sigmoid(logit[0]).numpy() for logit in model(batch)[:2])
        frame_onnx, onset_onnx = (torch.sigmoid(logit[0]).numpy() for logit in onnx_model(batch)[:2])
        difference = max(float(np.abs(frame_torch - frame_onnx).max()), float(np.abs(onset_torch - onset_onnx).max()))
        largest = max(largest, difference)
        pitches_torch, intervals_torch, _ = extract_notes(onset_torch, frame_torch)
        pitches_onnx, intervals_onnx, _ = extract_notes(onset_onnx, frame_onnx)
        if np.array_equal(pitches_torch, pitches_onnx) and np.array_equal(intervals_torch, intervals_onnx):
            continue
        (tipped if difference <= TOLERANCE else differing).append(name)
    return largest, differing, tipped


def as_onnx(model, threads=None):
    """The model exported to a temporary ONNX file and loaded in onnxruntime (transcribe.py --backend onnx)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.onnx")
        export_onnx(model, path)
        return OnnxModel(path, threads)


def test_recordings(data_path, seconds):
    """The first `seconds` of each test piece of a data set (whole pieces for 0), or 30 s of noise without any."""
    from dataset import DataError, MAESTRO_small
    try:
        test_set = MAESTRO_small(data_path, groups=["test"], sequence_length=seconds * SAMPLE_RATE or None,
                                 random_sample=False)
    except DataError:
        return [("30 s of noise", np.random.RandomState(0).uniform(-0.3, 0.3, 30 * SAMPLE_RATE).astype(np.float32))]
    return [(os.path.basename(item["path"]), item["audio"].numpy()) for item in test_set]


def write_page(folder, onnx_path, description):
    """The static page in `folder`: the page's files, the packages' files, the model and model.json."""
    modules = os.path.join(WEB, "node_modules")
    missing = [name for name in PACKAGE_FILES if not os.path.exists(os.path.join(modules, name))]
    if missing:
        sys.exit(f"the page's packages are not installed ({missing[0]} is missing): run make setup in the kit, "
                 "or npm ci --ignore-scripts in hw/web")
    os.makedirs(os.path.join(folder, "licenses"), exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(os.path.join(WEB, name), os.path.join(folder, name))
    for name in PACKAGE_FILES:
        shutil.copyfile(os.path.join(modules, name), os.path.join(folder, os.path.basename(name)))
    notices = []
    for package in ("onnxruntime-web", "@tonejs/midi"):
        with open(os.path.join(modules, package, "package.json")) as f:
            info = json.load(f)
        notices.append(f"{info['name']} {info['version']}: {info['license']} licence, {info.get('homepage', '')}")
    shutil.copyfile(os.path.join(modules, "@tonejs", "midi", "LICENSE.md"),
                    os.path.join(folder, "licenses", "tonejs-midi-LICENSE.md"))
    with open(os.path.join(folder, "licenses", "NOTICE.txt"), "w") as f:
        f.write("\n".join(notices) + "\n")
    if os.path.abspath(onnx_path) != os.path.abspath(os.path.join(folder, "model.onnx")):
        shutil.copyfile(onnx_path, os.path.join(folder, "model.onnx"))
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump({"description": description, **OnnxModel(onnx_path).thresholds}, f)


def pretrained_model():
    """The kit's pretrained transcriber: its ONNX file and a line about it."""
    if not os.path.exists(PRETRAINED):
        sys.exit(f"this copy of the kit has no pretrained transcriber ({PRETRAINED})")
    with open(os.path.join(HERE, "pretrained", "config.json")) as f:
        config = json.load(f)
    return PRETRAINED, (f"the piano transcription kit's pretrained transcriber ({config['model_type']}, "
                        f"{config['trained_steps']} training steps)")


def export_checkpoint(args):
    """A train.py checkpoint written as ONNX (to --onnx, else into the --web folder) and checked against
    torch; returns the ONNX file and a line about the model. Writes nothing if the two find different notes."""
    model, checkpoint = load_model(args.checkpoint)
    metadata = {key: checkpoint.get(key) for key in ("model_type", "cnn_unit", "fc_unit", "step")}
    onnx_path = args.onnx or os.path.join(args.web, "model.onnx")
    partial = onnx_path + ".partial"                # replaces onnx_path only once it has passed the check
    names = export_onnx(model, partial, metadata)
    recordings = test_recordings(args.data_path, args.check_seconds)
    largest, differing, tipped = compare(model, OnnxModel(partial), recordings)
    print(f"checked on {len(recordings)} recording(s): largest difference of probabilities {largest:.2e}; " + (
        f"notes differ in {', '.join(differing)}" if differing else "identical notes" + (
            f" except where a probability lies within {largest:.1e} of its threshold ({', '.join(tipped)})"
            if tipped else "")))
    if differing or largest > TOLERANCE:
        os.remove(partial)
        sys.exit(f"the ONNX model does not compute what the torch model does; {onnx_path} was not written")
    os.replace(partial, onnx_path)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 2 ** 20:.1f} MB): audio -> {', '.join(names)}")
    return onnx_path, (f"{metadata['model_type']} (cnn_unit {metadata['cnn_unit']}, fc_unit {metadata['fc_unit']}), "
                       f"step {metadata['step']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint written by train.py (model-best.pt or "
                                                      "model-<step>.pt)")
    parser.add_argument("--pretrained", action="store_true", help="the kit's pretrained model instead (--web)")
    parser.add_argument("--onnx", metavar="OUT", help="the ONNX file to write")
    parser.add_argument("--web", metavar="DIR", help="the folder of a web page that transcribes in the browser")
    parser.add_argument("--data_path", default=DEFAULT_DATA_PATH, help="whose test pieces check the export")
    parser.add_argument("--check_seconds", type=int, default=30, help="of each test piece (0: whole pieces)")
    args = parser.parse_args()
    if not (args.onnx or args.web):
        parser.error("say what to write: --onnx OUT, --web DIR, or both")
    if bool(args.checkpoint) == args.pretrained:
        parser.error("name a checkpoint, or --pretrained (not both)")
    if args.pretrained and args.onnx:
        parser.error("the pretrained model is ONNX already: pretrained/transcriber.onnx")
    onnx_packages()
    if args.web:
        os.makedirs(args.web, exist_ok=True)
    onnx_path, description = pretrained_model() if args.pretrained else export_checkpoint(args)
    if args.web:
        write_page(args.web, onnx_path, description)
        print(f"wrote the page to {args.web}: open it with python -m http.server -d {args.web}, then "
              "http://localhost:8000 (browsers refuse pages opened as files)")


if __name__ == "__main__":
    main()
