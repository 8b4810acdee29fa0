"""hw/tuning.py and transcribe.py --tuning on real rendered audio: a piece played sharp or flat is measured so,
and transcribed as well as in tune."""
import json
import os
import subprocess
import sys

import numpy as np
import pretty_midi
import soundfile
import torch

from evaluate import extract_notes
from export import PRETRAINED, OnnxModel
from transcribe import predict
from tuning import estimate_tuning, resample, retime_probabilities, retime_roll

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_tuning_of_a_rendered_piece_is_measured_to_a_few_cents(tiny_data):
    records = [r for r in json.load(open(os.path.join(tiny_data, "data.json")))]
    for record in records[:4]:                         # played on the kit's pianos, all tuned to A = 440 Hz
        audio, rate = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
        own = estimate_tuning(audio, rate)
        assert abs(own) <= 5                     # a sampled piano's own tuning; less certain on a 12 s piece
        for cents in (-30, 17, 42):
            played = resample(torch.from_numpy(audio), 2 ** (cents / 1200)).numpy()
            assert abs(estimate_tuning(played, rate) - own - cents) <= 2, (record["audio_filename"], cents)
    assert estimate_tuning(np.zeros(16000 * 5, np.float32)) == 0.0             # nothing to measure
    assert estimate_tuning(np.zeros(100, np.float32)) == 0.0


def transcribe(*args):
    return subprocess.run([sys.executable, "transcribe.py", *args], cwd=os.path.join(ROOT, "hw"), capture_output=True,
                          text=True)


def note_f1(output):
    line = next(line for line in output.splitlines() if "against" in line and "note F1" in line)
    return float(line.split("note F1 ")[1].split(",")[0])


def test_a_flat_recording_is_transcribed_in_tune(tiny_data, tmp_path):
    if not os.path.exists(PRETRAINED):
        return
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, rate = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    ratio = 2 ** (-30 / 1200)                            # 30 cents flat, so a little slower: the notes move too
    soundfile.write(tmp_path / "flat.flac", resample(torch.from_numpy(audio), ratio).numpy(), rate)
    midi = pretty_midi.PrettyMIDI(os.path.join(tiny_data, record["midi_filename"]))
    midi.adjust_times([0, midi.get_end_time()], [0, midi.get_end_time() / ratio])
    midi.write(str(tmp_path / "flat.mid"))
    in_tune = transcribe("--pretrained", os.path.join(tiny_data, record["audio_filename"]), "--reference",
                         os.path.join(tiny_data, record["midi_filename"]), "--out", str(tmp_path / "in_tune"))
    assert in_tune.returncode == 0 and "cents" not in in_tune.stdout, in_tune.stderr[-2000:]
    flat = transcribe("--pretrained", str(tmp_path / "flat.flac"), "--reference", str(tmp_path / "flat.mid"),
                      "--out", str(tmp_path / "flat"))
    assert flat.returncode == 0, flat.stderr[-2000:]
    measured = int(flat.stdout.split(" cents flat")[0].rsplit("played ", 1)[1])
    assert 25 <= measured <= 35, flat.stdout
    assert note_f1(flat.stdout) >= note_f1(in_tune.stdout) - 0.05, (flat.stdout, in_tune.stdout)
    stored = np.load(tmp_path / "flat" / "flat.npz")
    assert len(stored["frame"]) == len(resample(torch.from_numpy(audio), ratio)) // 512    # the recording's frames
    # Told the tuning, it uses that; told 0, it leaves the recording as it is.
    told = transcribe("--pretrained", str(tmp_path / "flat.flac"), "--tuning", "-30", "--out", str(tmp_path / "told"))
    assert "played 30 cents flat" in told.stdout, told.stderr[-2000:]
    left = transcribe("--pretrained", str(tmp_path / "flat.flac"), "--tuning", "0", "--out", str(tmp_path / "left"))
    assert left.returncode == 0 and "cents" not in left.stdout
    wrong = transcribe("--pretrained", str(tmp_path / "flat.flac"), "--tuning", "flat")
    assert wrong.returncode == 2 and "'flat' is neither auto nor cents between -100 and 100" in wrong.stderr


def test_probabilities_moved_to_another_tuning_keep_every_note_once(tiny_data):
    """transcribe.py moves the probabilities of a recording played in tune back to the recording's frames:
    slowed down or sped up 30 cents' worth, the pretrained transcriber's notes are the same notes."""
    if not os.path.exists(PRETRAINED):
        return
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test")
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    frame, onset, _ = predict(OnnxModel(PRETRAINED, threads=2), audio, "cpu")
    pitches, intervals, _ = extract_notes(onset, frame, None, 0.2, 0.4)
    assert len(pitches) > 20
    for ratio in (2 ** (-30 / 1200), 2 ** (30 / 1200)):            # the recording slower (flat), then faster
        frames = int(len(onset) / ratio)
        moved = [retime_probabilities(torch.from_numpy(roll), ratio, frames).numpy() for roll in (onset, frame)]
        moved_pitches, moved_intervals, _ = extract_notes(*moved, None, 0.2, 0.4)
        assert len(moved_pitches) == len(pitches), ratio
        expected = np.floor((intervals[:, 0] + 0.5) / ratio)
        order = np.lexsort((moved_intervals[:, 0], moved_pitches)), np.lexsort((expected, pitches))
        assert np.array_equal(moved_pitches[order[0]], pitches[order[1]])
        assert np.abs(moved_intervals[order[0], 0] - expected[order[1]]).max() <= 1
    # A two-frame peak at each of 88 places in turn, one per key: slowed down, each is still one note. Moved
    # as one-frame events, as labels are, a peak that a skipped frame falls in splits into two.
    peaks = np.zeros((100, 88), np.float32)
    for key in range(88):
        peaks[key:key + 2, key] = 0.9
    slower = 2 ** (-30 / 1200)
    for moved, notes_per_key in [(retime_probabilities(torch.from_numpy(peaks), slower, 110), {1}),
                                 (retime_roll(torch.from_numpy(peaks), slower, one_frame=True, frames=110), {1, 2})]:
        struck = extract_notes(moved.numpy(), np.zeros_like(moved.numpy()), None, 0.5, 0.5)[0]
        assert set(np.bincount(struck, minlength=88)) == notes_per_key
