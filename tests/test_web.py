"""export.py --web: the page transcribes a real recording in Debian's Chromium as transcribe.py does."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime
import pretty_midi
import pytest
import soundfile
import torch
from mir_eval.util import midi_to_hz

from bench.browser import CHROMIUM, open_in_chromium
from bench.extract_notes import random_rolls
from evaluate import extract_notes, note_scores
from export import stored_threshold
from handout_runs import write_handout_with_solutions, threshold_with_notes, train_briefly
from submissions import ROOT
from tuning import estimate_tuning, resample

PRETRAINED = os.path.join(ROOT, "hw", "pretrained", "transcriber.onnx")

NODE = shutil.which("node") or shutil.which("nodejs")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")


@pytest.mark.skipif(NODE is None, reason="node is not installed (make setup installs npm, which brings it)")
def test_the_page_reads_notes_with_the_rules_of_extract_notes(tmp_path):
    rng = np.random.default_rng(0)
    cases = []
    for n_frames, thresholds in [(400, (0.5, 0.5)), (300, (0.3, 0.7)), (1, (0.5, 0.5)), (400, (0.6, 0.4, 0.2)),
                                 (1, (0.6, 0.4, 0.2))]:
        onsets, frames = random_rolls(rng, n_frames)
        velocity = rng.random((n_frames, 88)).astype(np.float32)
        onsets[min(5, n_frames - 1):min(9, n_frames), 40] = 0.9          # a held onset: one note, not four
        cases.append((onsets.astype(np.float32), frames.astype(np.float32), velocity, thresholds))
    (tmp_path / "cases.json").write_text(json.dumps([
        {"onsets": o.ravel().tolist(), "frames": f.ravel().tolist(), "velocity": v.ravel().tolist(),
         "n": len(o), "thresholds": t} for o, f, v, t in cases]))
    script = ("const {extractNotes} = require(process.argv[1]); const cases = require(process.argv[2]);"
              "console.log(JSON.stringify(cases.map((c) => extractNotes(new Float32Array(c.onsets), "
              "new Float32Array(c.frames), new Float32Array(c.velocity), c.n, ...c.thresholds))));")
    result = subprocess.run([NODE, "-e", script, os.path.join(ROOT, "hw", "web", "notes.js"), str(tmp_path / "cases.json")],
                            capture_output=True, text=True, check=True)
    for (onsets, frames, velocity, thresholds), notes in zip(cases, json.loads(result.stdout)):
        pitches, intervals, velocities = extract_notes(onsets, frames, velocity, *thresholds)
        assert [n["key"] for n in notes] == pitches.tolist()
        assert [[n["start"], n["end"]] for n in notes] == intervals.tolist()
        assert np.allclose([n["velocity"] for n in notes], velocities, atol=1e-6)
    assert sum(len(notes) for notes in json.loads(result.stdout)) > 100
    weak_onsets, frames = cases[3][:2]
    assert len(json.loads(result.stdout)[3]) > len(extract_notes(weak_onsets, frames, None, 0.6, 0.4)[0])


@pytest.mark.skipif(NODE is None, reason="node is not installed (make setup installs npm, which brings it)")
def test_the_page_measures_tuning_as_tuning_py_does(tiny_data, tmp_path):
    records = json.load(open(os.path.join(tiny_data, "data.json")))[:3]
    recordings = []
    for record in records:
        audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
        for cents in (0, -30, 17):
            recordings.append(resample(torch.from_numpy(audio), 2 ** (cents / 1200)).numpy() if cents else audio)
    for index, audio in enumerate(recordings):
        audio.astype("<f4").tofile(tmp_path / f"{index}.f32")
    script = ("const fs = require('fs'); const {estimateTuning} = require(process.argv[1]);"
              "const files = process.argv.slice(2)"
              ".map((path) => new Float32Array(fs.readFileSync(path).buffer.slice(0)));"
              "console.log(JSON.stringify(files.map((audio) => estimateTuning(audio, 16000))));")
    result = subprocess.run([NODE, "-e", script, os.path.join(ROOT, "hw", "web", "tuning.js"),
                             *[str(tmp_path / f"{i}.f32") for i in range(len(recordings))]],
                            capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout)
    assert np.allclose(measured, [estimate_tuning(audio) for audio in recordings], atol=1e-6)
    assert np.ptp(measured) > 40                                   # flat, in tune and sharp among them


@pytest.fixture(scope="module")
def page(tiny_data, tmp_path_factory):
    """A full Onsets and Frames (velocity included) trained briefly on the tiny set, exported as a page."""
    hw = write_handout_with_solutions(tmp_path_factory.mktemp("hw"))
    os.symlink(os.path.join(ROOT, "hw", "web"), hw / "web")
    checkpoint = train_briefly(hw, "onf_full", tiny_data, hw / "run")
    folder = hw / "page"
    result = subprocess.run([sys.executable, "export.py", checkpoint, "--web", str(folder), "--data_path", tiny_data],
                            cwd=hw, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return hw, checkpoint, folder


@needs_chromium
def test_the_page_finds_the_notes_transcribe_py_finds(page, tiny_data, tmp_path):
    hw, checkpoint, folder = page
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio = os.path.join(tiny_data, record["audio_filename"])
    first = subprocess.run([sys.executable, "transcribe.py", checkpoint, audio, "--out", str(tmp_path / "first")],
                           cwd=hw, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    threshold = threshold_with_notes(np.load(next((tmp_path / "first").glob("*.npz"))), 10)
    expected = subprocess.run([sys.executable, "transcribe.py", checkpoint, audio, "--backend", "onnx",
                               "--onset_threshold", str(threshold), "--frame_threshold", str(threshold), "--out",
                               str(tmp_path / "expected")], cwd=hw, capture_output=True, text=True)
    assert expected.returncode == 0, expected.stderr[-2000:]
    midi = pretty_midi.PrettyMIDI(str(next((tmp_path / "expected").glob("*.mid"))))
    reference = midi.instruments[0].notes
    transcription, status, errors, midi_bytes = open_in_chromium(
        folder, f"onset_threshold={threshold}&frame_threshold={threshold}", audio, tmp_path / "page.png")
    assert transcription["done"] and not errors, (status, errors)       # playing and stopping included
    found = transcription["notes"]
    (tmp_path / "page.mid").write_bytes(midi_bytes)                      # the file its download link offers
    offered = sorted((round(n.start, 2), n.pitch, round(n.end, 2), n.velocity)
                     for n in pretty_midi.PrettyMIDI(str(tmp_path / "page.mid")).instruments[0].notes)
    assert offered == sorted((round(n["start"], 2), n["pitch"], round(n["end"], 2), n["velocity"]) for n in found)
    assert f"{len(found)} notes" in status and len(found) >= 10 and len({n["start"] for n in found}) >= 5
    estimated = np.array([[n["start"], n["end"]] for n in found]), np.array([n["pitch"] for n in found])
    truth = np.array([[n.start, n.end] for n in reference]), np.array([n.pitch for n in reference])
    scores = note_scores(truth[0], 440 * 2 ** ((truth[1] - 69) / 12), estimated[0],
                         440 * 2 ** ((estimated[1] - 69) / 12), offset_ratio=0.2)
    assert scores[2] >= 0.98
    assert {n["velocity"] for n in found} == {n.velocity for n in reference} and len({n["velocity"] for n in found}) > 1
    assert (tmp_path / "page.png").stat().st_size > 20000


@needs_chromium
def test_the_page_decodes_other_rates_and_explains_unreadable_files(page, tiny_data, tmp_path):
    _, _, folder = page
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, rate = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    from scipy.signal import resample_poly
    stereo = resample_poly(audio, 441, 160)
    soundfile.write(tmp_path / "take.mp3", np.stack([stereo, 0.5 * stereo], axis=1), 44100, format="MP3")
    transcription, status, errors, _ = open_in_chromium(folder, "", tmp_path / "take.mp3")
    assert transcription["done"] and not errors
    assert abs(transcription["seconds"] - len(audio) / rate) < 0.2      # decoded, mixed down and resampled to 16 kHz
    (tmp_path / "notes.mp3").write_text("these are not sounds")
    transcription, status, errors, _ = open_in_chromium(folder, "", tmp_path / "notes.mp3")
    assert not transcription["done"] and "Could not read notes.mp3 as audio" in status
    assert not errors


def test_the_page_needs_a_model_and_a_folder(tmp_path):
    hw = os.path.join(ROOT, "hw")
    result = subprocess.run([sys.executable, "export.py", "--web", str(tmp_path)], cwd=hw, capture_output=True, text=True)
    assert result.returncode == 2 and "name a checkpoint, or --pretrained" in result.stderr
    result = subprocess.run([sys.executable, "export.py", "model.pt"], cwd=hw, capture_output=True, text=True)
    assert result.returncode == 2 and "--onnx OUT, --web DIR, or both" in result.stderr


@needs_chromium
def test_the_pretrained_page(tiny_data, tmp_path):
    result = subprocess.run([sys.executable, "export.py", "--pretrained", "--web", str(tmp_path / "page")],
                            cwd=os.path.join(ROOT, "hw"), capture_output=True, text=True)
    if not os.path.exists(PRETRAINED):
        assert result.returncode == 1 and "this copy of the kit has no pretrained transcriber" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pretrained transcriber" in json.load(open(tmp_path / "page" / "model.json"))["description"]
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    # model.json, with the model's thresholds, arrives after the file is dropped (as on a slow network): the page
    # waits for it rather than transcribe at 0.5
    transcription, status, errors, _ = open_in_chromium(tmp_path / "page", "",
                                                        os.path.join(tiny_data, record["audio_filename"]),
                                                        delays={"/model.json": 3})
    assert transcription["done"] and not errors and len(transcription["notes"]) > 0, status
    assert len({n["velocity"] for n in transcription["notes"]}) > 1            # it predicts velocities
    # With the thresholds the model carries (model.json), as transcribe.py --pretrained uses them.
    expected = subprocess.run([sys.executable, "transcribe.py", "--pretrained", os.path.join(tiny_data,
                               record["audio_filename"]), "--out", str(tmp_path / "expected")],
                              cwd=os.path.join(ROOT, "hw"), capture_output=True, text=True)
    assert expected.returncode == 0, expected.stderr[-2000:]
    stored = onnxruntime.InferenceSession(PRETRAINED).get_modelmeta().custom_metadata_map
    assert transcription["thresholds"] == {"onsetThreshold": float(stored.get("onset_threshold", 0.5)),
                                           "frameThreshold": float(stored.get("frame_threshold", 0.5)),
                                           "weakOnsetThreshold": stored_threshold(stored.get("weak_onset_threshold"),
                                                                                  None)}
    reference = pretty_midi.PrettyMIDI(str(next((tmp_path / "expected").glob("*.mid")))).instruments[0].notes
    found = transcription["notes"]
    scores = note_scores(np.array([[n.start, n.end] for n in reference]), midi_to_hz(np.array([n.pitch for n in reference])),
                         np.array([[n["start"], n["end"]] for n in found]), midi_to_hz(np.array([n["pitch"] for n in found])))
    assert scores[2] >= 0.95, scores


@needs_chromium
def test_the_pretrained_page_plays_a_flat_recording_in_tune(tiny_data, tmp_path):
    if not os.path.exists(PRETRAINED):
        return
    subprocess.run([sys.executable, "export.py", "--pretrained", "--web", str(tmp_path / "page")],
                   cwd=os.path.join(ROOT, "hw"), capture_output=True, check=True)
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, rate = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    flat = tmp_path / "flat.flac"                       # 30 cents flat, so a little slower
    soundfile.write(flat, resample(torch.from_numpy(audio), 2 ** (-30 / 1200)).numpy(), rate)
    transcription, status, errors, _ = open_in_chromium(tmp_path / "page", "", flat)
    assert transcription["done"] and not errors, status
    assert abs(transcription["tuning"] + 30) <= 5 and "played 30 cents flat (transcribed in tune)" in status, status
    expected = subprocess.run([sys.executable, "transcribe.py", "--pretrained", str(flat), "--out",
                               str(tmp_path / "expected")], cwd=os.path.join(ROOT, "hw"), capture_output=True,
                              text=True)
    assert "played 30 cents flat" in expected.stdout, expected.stderr[-2000:]
    reference = pretty_midi.PrettyMIDI(str(tmp_path / "expected" / "flat.mid")).instruments[0].notes
    found = transcription["notes"]
    assert len(reference) > 20
    scores = note_scores(np.array([[n.start, n.end] for n in reference]),
                         midi_to_hz(np.array([n.pitch for n in reference])),
                         np.array([[n["start"], n["end"]] for n in found]),
                         midi_to_hz(np.array([n["pitch"] for n in found])), offset_ratio=None)
    assert scores[2] >= 0.95, scores              # the same notes at the same times as transcribe.py's
