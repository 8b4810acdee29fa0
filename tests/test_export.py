"""hw/export.py and transcribe.py's ONNX backend on real trained checkpoints and real audio files."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime
import pretty_midi
import pytest
import soundfile
import torch
from scipy.signal import resample_poly

from handout_runs import write_handout_with_solutions, threshold_with_notes, train_briefly
from submissions import ROOT

PRETRAINED = os.path.join(ROOT, "hw", "pretrained", "transcriber.onnx")


@pytest.fixture(scope="module")
def checkpoints(tiny_data, tmp_path_factory):
    """A short real run of the baseline (two outputs) and of the full Onsets and Frames (four outputs,
    velocity included), trained in a copy of the handout whose model.py is the solutions'."""
    hw = write_handout_with_solutions(tmp_path_factory.mktemp("hw"))
    paths = {model_type: train_briefly(hw, model_type, tiny_data, hw / f"run-{model_type}")
             for model_type in ("baseline", "onf_full")}
    return hw, paths


def solution_model(path):
    """The torch model of a checkpoint, built from the solutions' model.py."""
    spec = importlib.util.spec_from_file_location("solution_model", os.path.join(ROOT, "solutions", "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checkpoint = torch.load(path, weights_only=True)
    model = module.MODELS[checkpoint["model_type"]](checkpoint["cnn_unit"], checkpoint["fc_unit"])
    model.load_state_dict(checkpoint["model_state_dict"])
    return model.eval()


def run(hw, *args):
    return subprocess.run([sys.executable, *args], cwd=hw, capture_output=True, text=True)


@pytest.mark.parametrize("model_type,outputs", [("baseline", 2), ("onf_full", 4)])
def test_the_onnx_model_computes_what_torch_computes(checkpoints, tiny_data, tmp_path, model_type, outputs):
    hw, paths = checkpoints
    onnx_path = str(tmp_path / "model.onnx")
    result = run(hw, "export.py", paths[model_type], "--onnx", onnx_path, "--data_path", tiny_data,
                 "--check_seconds", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "identical notes" in result.stdout and "checked on 2 recording(s)" in result.stdout
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["frame_logit", "onset_logit", "offset_logit", "velocity"][:outputs]
    assert session.get_modelmeta().custom_metadata_map["model_type"] == model_type
    # Independently of export.py's own report: the same test piece through both, at two lengths.
    model = solution_model(paths[model_type])
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    for samples in (len(audio), 16000 * 3 + 77):
        got = session.run(None, {"audio": audio[None, :samples]})
        with torch.no_grad():
            expected = model(torch.from_numpy(audio[None, :samples]))
        assert len(got) == outputs and got[0].shape == (1, samples // 512, 88)
        for g, e in zip(got, expected):
            assert np.abs(1 / (1 + np.exp(-g)) - torch.sigmoid(e).numpy()).max() < 1e-4


def test_both_backends_write_the_same_transcription(checkpoints, tiny_data, tmp_path):
    hw, paths = checkpoints
    onnx_path = str(tmp_path / "onf.onnx")
    assert run(hw, "export.py", paths["onf_full"], "--onnx", onnx_path, "--data_path", tiny_data).returncode == 0
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    stereo = resample_poly(audio, 441, 160)                                   # 44.1 kHz stereo MP3, as users have
    soundfile.write(tmp_path / "take.mp3", np.stack([stereo, stereo], axis=1), 44100, format="MP3")
    assert run(hw, "transcribe.py", paths["onf_full"], str(tmp_path / "take.mp3"), "--out", str(tmp_path / "first")
               ).returncode == 0
    threshold = threshold_with_notes(np.load(tmp_path / "first" / "take.npz"), 5)
    thresholds = ["--onset_threshold", str(threshold), "--frame_threshold", str(threshold)]
    runs = {"torch": [paths["onf_full"]], "onnx file": [onnx_path], "checkpoint on onnx": [paths["onf_full"],
                                                                                            "--backend", "onnx"]}
    notes, probabilities = {}, {}
    for name, model_args in runs.items():
        out = tmp_path / name.replace(" ", "-")
        result = run(hw, "transcribe.py", model_args[0], str(tmp_path / "take.mp3"), *model_args[1:], *thresholds,
                     "--out", str(out))
        assert result.returncode == 0, result.stderr[-3000:]
        midi = pretty_midi.PrettyMIDI(str(out / "take.mid"))
        notes[name] = [(n.pitch, round(n.start, 4), round(n.end, 4), n.velocity) for n in midi.instruments[0].notes]
        probabilities[name] = np.load(out / "take.npz")
    assert len(notes["torch"]) > 0 and len({n[3] for n in notes["torch"]}) > 1     # predicted velocities
    assert notes["onnx file"] == notes["torch"] == notes["checkpoint on onnx"]
    for name in ("onnx file", "checkpoint on onnx"):
        for key, tolerance in (("frame", 1e-4), ("onset", 1e-4), ("velocity", 1e-3)):   # velocity: a regression
            assert np.abs(probabilities[name][key] - probabilities["torch"][key]).max() < tolerance, key


def test_onnx_thresholds_and_errors(checkpoints, tiny_data, tmp_path):
    hw, paths = checkpoints
    onnx_path = str(tmp_path / "baseline.onnx")
    assert run(hw, "export.py", paths["baseline"], "--onnx", onnx_path, "--data_path", tiny_data).returncode == 0
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    counts = {}
    for threshold in ("0.5", "0.001"):
        result = run(hw, "transcribe.py", onnx_path, os.path.join(tiny_data, record["audio_filename"]),
                     "--onset_threshold", threshold, "--frame_threshold", threshold, "--out", str(tmp_path / threshold))
        assert result.returncode == 0, result.stderr[-2000:]
        counts[threshold] = int(result.stdout.split(" notes ->")[0].rsplit(", ", 1)[1])
    assert counts["0.001"] > counts["0.5"]
    # Thresholds stored in the model (as the pretrained transcriber stores those chosen on validation) are
    # the defaults; flags still win.
    sys.path.insert(0, str(hw))
    from export import write_metadata
    write_metadata(onnx_path, {"onset_threshold": 0.001, "frame_threshold": 0.001})
    for flags, expected in (((), counts["0.001"]), (("--onset_threshold", "0.5", "--frame_threshold", "0.5"),
                                                     counts["0.5"])):
        result = run(hw, "transcribe.py", onnx_path, os.path.join(tiny_data, record["audio_filename"]), *flags,
                     "--out", str(tmp_path / "stored"))
        assert int(result.stdout.split(" notes ->")[0].rsplit(", ", 1)[1]) == expected, result.stderr[-2000:]
    result = run(hw, "transcribe.py", onnx_path, os.path.join(tiny_data, record["audio_filename"]), "--backend", "torch")
    assert result.returncode == 1 and "is an ONNX model: it runs with --backend onnx" in result.stderr
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    result = run(hw, "transcribe.py", str(tmp_path / "broken.onnx"), os.path.join(tiny_data, record["audio_filename"]))
    assert result.returncode == 1 and "is not an ONNX transcriber onnxruntime can load" in result.stderr
    assert "Traceback" not in result.stderr


def test_pretrained_transcriber(tiny_data, tmp_path):
    """On a fresh setup, --pretrained transcribes WAV, FLAC, OGG and MP3 at any rate (until the kit has a
    pretrained model, it says so)."""
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    files = []
    for name, rate, channels in (("take-44k.wav", 44100, 2), ("take-16k.flac", 16000, 1), ("take-48k.ogg", 48000, 2),
                                 ("take-22k.mp3", 22050, 1)):
        resampled = resample_poly(audio, rate // 50, 16000 // 50).astype(np.float32)
        soundfile.write(tmp_path / name, np.stack([resampled] * channels, axis=1), rate)
        files.append(str(tmp_path / name))
    result = subprocess.run([sys.executable, "transcribe.py", "--pretrained", *files, "--out", str(tmp_path / "out")],
                            cwd=os.path.join(ROOT, "hw"), capture_output=True, text=True)
    if not os.path.exists(PRETRAINED):
        assert result.returncode == 1 and "this copy of the kit has no pretrained transcriber" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-2000:]
    counts = []
    for path in files:
        notes = pretty_midi.PrettyMIDI(str(tmp_path / "out" / (os.path.splitext(os.path.basename(path))[0] + ".mid")))
        counts.append(len(notes.instruments[0].notes) if notes.instruments else 0)
        assert f"{path}: " in result.stdout
    assert min(counts) > 0 and max(counts) - min(counts) <= 0.1 * max(counts)   # the same music, whatever the file
    # Its MIDI notes lie where the piece's notes are: the median onset error of the notes it found is under half
    # a frame (11 ms early here; 27 ms early when notes were timed at their frame's start).
    from dataset import read_notes
    from mir_eval.transcription import match_notes
    from mir_eval.util import midi_to_hz
    truth = read_notes(os.path.join(tiny_data, record["midi_filename"]))
    found = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "take-16k.mid")).instruments[0].notes
    found = np.array([[n.start, n.end, n.pitch] for n in found])
    pairs = match_notes(truth[:, :2], midi_to_hz(truth[:, 2]), found[:, :2], midi_to_hz(found[:, 2]), offset_ratio=None)
    errors = [found[j, 0] - truth[i, 0] for i, j in pairs]
    assert len(errors) > 0.8 * len(truth) and abs(np.median(errors)) < 0.5 * 512 / 16000, np.median(errors)


class FixedLogits:
    """Stands for a runtime: returns the same frame and onset logits whatever the audio."""

    def __init__(self, onset_logit):
        self.frame, self.onset = torch.full((1, 40, 88), -6.0), torch.full((1, 40, 88), -6.0)
        self.frame[0, 10:30, 40] = 6.0
        self.onset[0, 10, 40] = onset_logit

    def __call__(self, audio):
        return self.frame, self.onset


def test_rounding_at_a_threshold_is_told_apart_from_a_wrong_export():
    """An onset at probability 0.50025 in one runtime and 0.49975 in the other starts a note in one only: that
    is rounding, and the export stands. The same note missing because its probability fell to 0.2 is not."""
    from export import compare
    recordings = [("take", np.zeros(16000, np.float32))]
    sure = FixedLogits(0.001)
    assert compare(sure, FixedLogits(0.001), recordings) == (0.0, [], [])
    largest, differing, tipped = compare(sure, FixedLogits(-0.001), recordings)
    assert differing == [] and tipped == ["take"] and 4e-4 < largest < 6e-4
    largest, differing, tipped = compare(sure, FixedLogits(-1.4), recordings)
    assert differing == ["take"] and tipped == [] and largest > 0.25
