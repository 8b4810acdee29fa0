"""train.py, evaluate.py and transcribe.py on real files: runs, outputs, and one-sentence errors."""
import glob
import json
import os
import shutil
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pretty_midi
import pytest
import soundfile
import torch
from mir_eval.transcription import precision_recall_f1_overlap
from scipy.signal import resample_poly

from bench.extract_notes import extract_notes_loop, random_rolls
from evaluate import evaluate_piece, extract_notes, note_scores, to_mir_eval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HW = os.path.join(ROOT, "hw")


def run(args, cwd=HW, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, **kwargs)


def test_extract_notes_rules():
    onsets, frames = np.zeros((60, 88)), np.zeros((60, 88))
    frames[5:20, 10] = 1
    onsets[[5, 12], 10] = 1          # struck again at 12 while still sounding: two notes
    onsets[30:32, 11] = 1            # an onset two frames long is one note; it lasts while the onset is on
    frames[40:50, 12] = 1            # frames without an onset make no note
    pitches, intervals, _ = extract_notes(onsets, frames)
    assert pitches.tolist() == [10, 10, 11]
    assert intervals.tolist() == [[5, 12], [12, 20], [30, 32]]


def test_extract_notes_matches_the_per_note_loop():
    rng = np.random.default_rng(0)
    for weak_onset_threshold in (None, None, None, 0.2, 0.3):
        onsets, frames = random_rolls(rng, 400)
        pitches, intervals, _ = extract_notes(onsets, frames, None, 0.5, 0.5, weak_onset_threshold)
        loop_pitches, loop_intervals = extract_notes_loop(onsets, frames, 0.5, 0.5, weak_onset_threshold)
        assert np.array_equal(pitches, loop_pitches) and np.array_equal(intervals, loop_intervals)
        if weak_onset_threshold:                        # weak onsets start notes, or start them a frame early
            assert not np.array_equal(intervals, extract_notes(onsets, frames)[1])


def test_note_scores_equal_mir_eval():
    rng = np.random.default_rng(1)
    label_onsets, label_frames = (r > 0.5 for r in random_rolls(rng, 800))
    ref_pitches, ref_intervals, _ = extract_notes(label_onsets, label_frames)
    # An imperfect transcription: notes shifted by up to two frames, some dropped, some added.
    keep = rng.random(len(ref_pitches)) > 0.2
    est_intervals = ref_intervals[keep] + rng.integers(-2, 3, (keep.sum(), 2))
    est_intervals[:, 1] = np.maximum(est_intervals[:, 1], est_intervals[:, 0] + 1)
    est_pitches = np.concatenate([ref_pitches[keep], rng.integers(0, 88, 30)])
    est_intervals = np.concatenate([est_intervals, np.sort(rng.integers(0, 800, (30, 2)), axis=1) + [0, 1]])
    ref, est = to_mir_eval(ref_pitches, ref_intervals), to_mir_eval(est_pitches, est_intervals)
    for offset_ratio in (None, 0.2):
        ours = note_scores(*ref, *est, offset_ratio=offset_ratio)
        theirs = precision_recall_f1_overlap(*ref, *est, offset_ratio=offset_ratio)
        assert np.allclose(ours, theirs) and ours[2] > 0.3


def test_perfect_and_empty_predictions():
    rng = np.random.default_rng(2)
    onsets, frames = ((r > 0.5).astype(np.float32) for r in random_rolls(rng, 300))
    perfect = evaluate_piece(frames, onsets, frames, onsets)
    assert all(perfect[f"metric/{k}/f1"] == 1.0 for k in ("note", "note-with-offsets"))
    assert perfect["metric/frame/frame_f1"] == 1.0 and perfect["metric/frame/accuracy"] == 1.0
    empty = evaluate_piece(np.zeros_like(frames), np.zeros_like(onsets), frames, onsets)
    assert empty["metric/note/f1"] == 0.0 and empty["metric/frame/frame_recall"] == 0.0


def test_velocity_metrics_when_velocity_is_predicted():
    rng = np.random.default_rng(3)
    onsets, frames = ((r > 0.5).astype(np.float32) for r in random_rolls(rng, 300))
    velocity = frames * rng.uniform(0.2, 0.9, (1, 88))          # one velocity per key, held while it sounds
    right = evaluate_piece(frames, onsets, frames, onsets, velocity=velocity, label_velocity=velocity)
    assert right["metric/note-with-velocity/f1"] == 1.0 and right["metric/note-with-offsets-and-velocity/f1"] == 1.0
    shuffled = velocity[:, rng.permutation(88)]
    wrong = evaluate_piece(frames, onsets, frames, onsets, velocity=shuffled, label_velocity=velocity)
    assert wrong["metric/note/f1"] == 1.0 and wrong["metric/note-with-velocity/f1"] < 0.8


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """A real, short train.py run of the baseline on the tiny set."""
    logdir = str(tmp_path_factory.mktemp("run"))
    result = run(["train.py", "--data_path", tiny_data, "--logdir", logdir, "-i", "4", "-vi", "2", "-b", "2",
                  "-cnn", "4", "-fc", "16", "--save_midi"])
    assert result.returncode == 0, result.stderr[-3000:]
    return logdir, result


def test_training_run_logs_everything(trained, tiny_data):
    logdir, result = trained
    assert "No CUDA device: using the cpu profile" in result.stdout + result.stderr
    config = json.load(open(os.path.join(logdir, "config.json")))
    assert {"torch", "python", "device", "git_commit", "numpy"} <= set(config) and config["args"]["seed"] == 42
    rows = [json.loads(line) for line in open(os.path.join(logdir, "metrics.jsonl"))]
    assert [r["step"] for r in rows] == [2, 4] and "metric/note/f1" in rows[0]
    console = open(os.path.join(logdir, "console.log")).read()
    assert "metric/loss/frame_loss      : " in console and "metric/note-with-offsets/f1 : " in console
    results = open(os.path.join(logdir, "results.txt")).read().splitlines()
    assert any(line.startswith("                            note f1                        : ") for line in results)
    checkpoint = torch.load(os.path.join(logdir, "model-4.pt"), weights_only=True)
    assert checkpoint["step"] == 4 and checkpoint["model_type"] == "baseline" and checkpoint["cnn_unit"] == 4
    # The newest checkpoint (--keep_last 1) and the best by validation note F1, weights only.
    assert sorted(name for name in os.listdir(logdir) if name.endswith(".pt")) == ["model-4.pt", "model-best.pt"]
    best = torch.load(os.path.join(logdir, "model-best.pt"), weights_only=True)
    assert best["note_f1"] == pytest.approx(max(r["metric/note/f1"] for r in rows), abs=1e-6)
    assert "optimizer_state_dict" not in best and best["model_type"] == "baseline"
    assert f"threads {torch.get_num_threads()}" in console
    test_pieces = [r["audio_filename"] for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "test"]
    written = sorted(os.listdir(os.path.join(logdir, "midi")))            # --save_midi
    assert written == sorted(os.path.basename(p).replace(".flac", ".mid") for p in test_pieces)
    for name in written:
        pretty_midi.PrettyMIDI(os.path.join(logdir, "midi", name))


def test_resume_continues_from_the_checkpoint(trained, tiny_data, tmp_path):
    logdir, _ = trained
    result = run(["train.py", "--data_path", tiny_data, "--logdir", str(tmp_path), "-i", "6", "-vi", "2", "-b", "2",
                  "-cnn", "4", "-fc", "16", "--resume", os.path.join(logdir, "model-4.pt")])
    assert result.returncode == 0, result.stderr[-2000:]
    assert [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")] == [6]


def test_a_batch_larger_than_the_training_split_still_trains(tiny_data, tmp_path):
    pieces = sum(r["split"] == "train" for r in json.load(open(os.path.join(tiny_data, "data.json"))))
    result = run(["train.py", "--data_path", tiny_data, "--logdir", str(tmp_path), "-i", "2", "-vi", "2",
                  "-b", str(pieces + 2), "-v", "20480", "-cnn", "4", "-fc", "16", "--skip_test"], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"batch {pieces + 2} x 20480 samples" in open(tmp_path / "console.log").read()
    assert [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")] == [2]


def test_evaluate_cli_writes_results(trained, tiny_data, tmp_path):
    logdir, _ = trained
    out = tmp_path / "results.txt"
    result = run(["evaluate.py", os.path.join(logdir, "model-4.pt"), "--data_path", tiny_data, "--group",
                  "validation", "--out", str(out)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "frame_f1" in out.read_text() and "note-with-offsets" in out.read_text()
    # Then the mean scores per piano and per room family of the pieces data.json names.
    records = [r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "validation"]
    lines = out.read_text().splitlines()
    groups = {field: lines.index(f"{'by ' + field:>32} {'pieces':>8}   note F1  frame F1")
              for field in ("piano", "room.family")}
    pianos = {line.split()[0]: int(line.split()[1]) for line in lines[groups["piano"] + 1:groups["room.family"]]}
    assert pianos == {p: sum(r["piano"] == p for r in records) for p in {r["piano"] for r in records}}
    families = {line.split()[0] for line in lines[groups["room.family"] + 1:]}
    assert families == {r["room"]["family"] for r in records}
    # Any other field on request; one no piece has is refused with the fields there are.
    result = run(["evaluate.py", os.path.join(logdir, "model-4.pt"), "--data_path", tiny_data, "--group",
                  "validation", "--by", "canonical_composer", "--out", str(out)])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = out.read_text().splitlines()
    first = lines.index(f"{'by canonical_composer':>32} {'pieces':>8}   note F1  frame F1")
    composers = {line[:32].strip(): int(line[32:41]) for line in lines[first + 1:]}
    assert composers == {c: sum(r["canonical_composer"] == c for r in records) for c in
                         {r["canonical_composer"] for r in records}}
    result = run(["evaluate.py", os.path.join(logdir, "model-4.pt"), "--data_path", tiny_data, "--by", "pianist"])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no piece in" in result.stderr and "has pianist; its fields are" in result.stderr
    assert "canonical_composer" in result.stderr


def test_transcribe_any_audio_file(trained, tiny_data, tmp_path):
    logdir, _ = trained
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    resampled = resample_poly(audio, 3, 1)                                     # 48 kHz stereo
    soundfile.write(tmp_path / "take.ogg", np.stack([resampled, 0.5 * resampled], axis=1), 48000)
    result = run(["transcribe.py", os.path.join(logdir, "model-4.pt"), str(tmp_path / "take.ogg"), "--out",
                  str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr[-2000:]
    probabilities = np.load(tmp_path / "out" / "take.npz")
    assert probabilities["frame"].shape == (len(audio) // 512, 88) == probabilities["onset"].shape
    pretty_midi.PrettyMIDI(str(tmp_path / "out" / "take.mid"))
    assert soundfile.info(str(tmp_path / "out" / "take.wav")).samplerate == 16000
    assert (tmp_path / "out" / "take.png").stat().st_size > 10000


def test_a_note_read_back_from_its_frames_lies_at_its_time(tiny_data):
    """The loader puts each note in the frame its start falls in; transcribe.py's note_seconds reads a frame back
    as its middle, so the notes of a real MIDI file, framed and read back, lie within half a frame of their
    times and are not early on average (a frame's start would put them 16 ms early)."""
    from dataset import note_frames, read_notes
    from transcribe import note_seconds
    records = json.load(open(os.path.join(tiny_data, "data.json")))
    errors = []
    for record in records:
        notes = read_notes(os.path.join(tiny_data, record["midi_filename"]))
        framed = note_frames(notes, n_frames=int(notes[:, 1].max() * 16000 / 512) + 1)
        errors += list(note_seconds(framed[:, :2])[:, 0] - notes[:, 0])          # no note is dropped: same order
    errors = np.array(errors)
    assert len(errors) > 100 and np.all(np.abs(errors) <= 0.5 * 512 / 16000 + 1e-9)
    assert abs(errors.mean()) < 0.003


def test_transcribe_scores_against_a_reference_and_wraps_long_recordings(trained, tiny_data, tmp_path):
    from dataset import note_frames, piano_rolls, read_notes
    logdir, _ = trained
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    audio, _ = soundfile.read(os.path.join(tiny_data, record["audio_filename"]), dtype="float32")
    notes = read_notes(os.path.join(tiny_data, record["midi_filename"]))
    copies = int(np.ceil(70 * 16000 / len(audio)))               # over 60 s: the picture has three rows
    soundfile.write(tmp_path / "long.flac", np.tile(audio, copies), 16000)
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(int(velocity), int(pitch), start + k * len(audio) / 16000, end + k * len(audio) / 16000)
                   for k in range(copies) for start, end, pitch, velocity in notes]
    midi.instruments.append(piano)
    midi.write(str(tmp_path / "long.mid"))
    result = run(["transcribe.py", os.path.join(logdir, "model-4.pt"), str(tmp_path / "long.flac"), "--reference",
                  str(tmp_path / "long.mid"), "--out", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr[-2000:]
    # The scores it prints are the homework's metrics of its own probabilities against the MIDI's label rolls.
    probabilities = np.load(tmp_path / "out" / "long.npz")
    n_frames = len(probabilities["frame"])
    rolls = piano_rolls(note_frames(read_notes(str(tmp_path / "long.mid")), n_frames), 0, n_frames)
    expected = evaluate_piece(probabilities["frame"], probabilities["onset"], rolls["frame"], rolls["onset"])
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("against"))
    assert f"note F1 {expected['metric/note/f1']:.3f}" in line
    assert f"frame F1 {expected['metric/frame/frame_f1']:.3f}" in line
    # A transcription that is the reference's own label rolls scores 1: the MIDI is read in the labels' frames.
    import transcribe
    reference, scores = transcribe.score_against(str(tmp_path / "long.mid"), rolls["frame"], rolls["onset"], None)
    assert len(reference) == copies * len(notes)
    assert scores["metric/note/f1"] == 1.0 and scores["metric/frame/frame_f1"] == 1.0
    image = plt.imread(tmp_path / "out" / "long.png")
    assert image.shape[0] == 3 * 4.5 * 80 and image.shape[1] == (4 + 30 / 2) * 80     # three rows of 30 s
    result = run(["transcribe.py", os.path.join(logdir, "model-4.pt"), str(tmp_path / "long.flac"),
                  str(tmp_path / "long.flac"), "--reference", str(tmp_path / "long.mid")])
    assert result.returncode != 0 and "names 1 MIDI files for 2 recordings" in result.stderr


def test_transcribe_thresholds_decide_the_notes(trained, tiny_data, tmp_path):
    logdir, _ = trained
    record = json.load(open(os.path.join(tiny_data, "data.json")))[0]
    counts = {}
    for threshold in ("0.5", "0.001"):
        out = tmp_path / threshold
        result = run(["transcribe.py", os.path.join(logdir, "model-4.pt"), os.path.join(tiny_data, record["audio_filename"]),
                      "--onset_threshold", threshold, "--frame_threshold", threshold, "--out", str(out)])
        assert result.returncode == 0, result.stderr[-2000:]
        name = os.path.splitext(os.path.basename(record["audio_filename"]))[0]
        probabilities = np.load(out / f"{name}.npz")
        pitches, _, _ = extract_notes(probabilities["onset"], probabilities["frame"], None, float(threshold),
                                      float(threshold))
        notes = [n for i in pretty_midi.PrettyMIDI(str(out / f"{name}.mid")).instruments for n in i.notes]
        assert len(notes) == len(pitches) and f", {len(pitches)} notes ->" in result.stdout
        counts[threshold] = len(notes)
    assert counts["0.001"] > counts["0.5"]         # an untrained model's probabilities sit near the label rates


def test_chunked_prediction_equals_one_pass(tmp_path):
    import transcribe
    from model import Transcriber
    torch.manual_seed(0)
    model = Transcriber(4, 16).eval()
    audio = np.random.default_rng(0).standard_normal(16000 * 70).astype(np.float32) * 0.1
    frames, onsets, _ = transcribe.predict(model, audio, "cpu")
    with torch.no_grad():
        frame_logit, onset_logit = model(torch.from_numpy(audio[: len(audio) // 512 * 512])[None])
    assert frames.shape == (len(audio) // 512, 88)
    # Chunk boundaries (every 30 s) must not show. Only the first and last frames may differ: there the
    # chunked pass sees padded silence where the one-pass model sees its convolutions' zero padding.
    inner = slice(4, -4)
    assert np.allclose(frames[inner], torch.sigmoid(frame_logit[0]).numpy()[inner], atol=1e-5)
    assert np.allclose(onsets[inner], torch.sigmoid(onset_logit[0]).numpy()[inner], atol=1e-5)


def test_bad_inputs_get_one_sentence(trained, tiny_data, tmp_path):
    logdir, _ = trained
    checkpoint = os.path.join(logdir, "model-4.pt")
    (tmp_path / "empty.wav").write_bytes(b"")
    soundfile.write(tmp_path / "silent.wav", np.zeros(0, np.float32), 16000)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    wrong_size = torch.load(checkpoint, weights_only=True)
    wrong_size["cnn_unit"] = 8
    torch.save(wrong_size, tmp_path / "wrong.pt")
    cases = [
        (["transcribe.py", checkpoint, str(tmp_path / "empty.wav")], "cannot read audio file"),
        (["transcribe.py", checkpoint, str(tmp_path / "silent.wav")], "is empty"),
        (["transcribe.py", str(tmp_path / "junk.pt"), str(tmp_path / "silent.wav")], "not a checkpoint written by train.py"),
        (["evaluate.py", str(tmp_path / "wrong.pt")], "does not fit Transcriber with cnn_unit=8"),
        (["evaluate.py", checkpoint, "--onset_threshold", "1.5"], "must lie between 0 and 1 (it is a probability)"),
        (["transcribe.py", checkpoint, str(tmp_path / "silent.wav"), "--frame_threshold", "0"],
         "must lie between 0 and 1 (it is a probability), not 0.0"),
        (["train.py", "--model_type", "onf", "-i", "1", "--data_path", str(tmp_path), "--logdir",
          str(tmp_path / "stub")], "Q3: build the layers of Transcriber_ONF"),
        (["train.py", "--resume", os.path.join(logdir, "model-best.pt"), "-cnn", "4", "-fc", "16", "--data_path",
          tiny_data, "--logdir", str(tmp_path / "best")], "holds weights only (model-best.pt does)"),
        (["train.py", "--model_type", "rnn", "--no_detach"], "--no_detach applies to --model_type onf only"),
        (["train.py", "-cnn", "8", "-fc", "16", "--resume", checkpoint, "--logdir", str(tmp_path / "r")],
         "holds a baseline model with cnn_unit=4, fc_unit=16; this run asks for baseline with cnn_unit=8"),
    ]
    for args, message in cases:
        result = run(args + ["--out", str(tmp_path / "o")] if args[0] == "transcribe.py" else args)
        assert result.returncode != 0, args
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr[-1500:])
    assert not (tmp_path / "stub").exists()              # a run that cannot start leaves no log folder


def test_a_bad_recording_in_a_batch_skips_itself_only(trained, tiny_data, tmp_path):
    logdir, _ = trained
    checkpoint = os.path.join(logdir, "model-4.pt")
    (tmp_path / "broken.wav").write_bytes(b"RIFF and nothing else")
    good = sorted(glob.glob(os.path.join(tiny_data, "test", "*.flac")))[:2]
    out = tmp_path / "out"
    result = run(["transcribe.py", checkpoint, good[0], str(tmp_path / "broken.wav"), good[1], "--out", str(out)])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "skipped: cannot read audio file" in result.stderr
    assert f"1 of 3 recordings could not be transcribed: {tmp_path / 'broken.wav'}" in result.stderr
    for path in good:                                  # the recordings before and after it are transcribed
        assert (out / (os.path.splitext(os.path.basename(path))[0] + ".mid")).stat().st_size > 0
    # Two recordings of the same name would write the same outputs: refused before anything is written.
    (tmp_path / "again").mkdir()
    shutil.copy(good[0], tmp_path / "again")
    copy = str(tmp_path / "again" / os.path.basename(good[0]))
    result = run(["transcribe.py", checkpoint, good[0], copy, "--out", str(tmp_path / "twice")])
    assert result.returncode != 0 and "would overwrite each other" in result.stderr
    assert not (tmp_path / "twice").exists()


def test_a_model_with_wrong_outputs_is_named(tiny_data, tmp_path):
    handout = tmp_path / "hw"
    shutil.copytree(HW, handout, ignore=shutil.ignore_patterns("runs", "tests", "__pycache__"))
    model = (handout / "model.py").read_text()
    model = model.replace("        return frame_logit, onset_logit\n\n\nclass Transcriber_RNN",
                          "        return frame_logit.transpose(1, 2), onset_logit\n\n\nclass Transcriber_RNN")
    (handout / "model.py").write_text(model)
    result = run(["train.py", "--data_path", tiny_data, "--logdir", str(tmp_path / "run"), "-i", "1", "-b", "2",
                  "-cnn", "4", "-fc", "16"], cwd=handout)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "forward must return (frame_logit, onset_logit), each of shape (2, 160, 88)" in result.stderr
    assert "[(2, 88, 160), (2, 160, 88)]" in result.stderr


def test_evaluate_cli_scores_at_other_thresholds(trained, tiny_data, tmp_path):
    """Lower thresholds count more frames and onsets as sounding; those results get a file of their own."""
    logdir, _ = trained
    checkpoint = os.path.join(logdir, "model-4.pt")

    def recalls(*thresholds):
        result = run(["evaluate.py", checkpoint, "--data_path", tiny_data, "--group", "validation", *thresholds])
        assert result.returncode == 0, result.stderr[-2000:]
        lines = result.stdout.splitlines()
        scores = {line.split()[1]: float(line.split()[3]) for line in lines if line.split()[:1] == ["frame"]}
        return scores["frame_recall"], scores["onset_recall"], lines[-1]
    *at_half, wrote = recalls()
    assert wrote.endswith("results-validation.txt")
    *lower, wrote = recalls("--onset_threshold", "0.001", "--frame_threshold", "0.01")
    assert wrote.endswith("results-validation-onset0.001-frame0.01.txt")
    assert lower[0] > at_half[0] and lower[1] > at_half[1]


def test_evaluate_sweep_prints_f1_per_threshold_on_the_validation_pieces(trained, tiny_data):
    from constants import FRAME_SWEEP, ONSET_SWEEP
    logdir, _ = trained
    before = sorted(os.listdir(logdir))
    result = run(["evaluate.py", os.path.join(logdir, "model-4.pt"), "--data_path", tiny_data, "--sweep"])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == f"validation pieces of {tiny_data}"
    rows = {line[:22].strip(): line[22:].split() for line in lines if line[:22].strip()}
    assert [float(value) for value in rows["onset threshold"]] == list(ONSET_SWEEP)
    assert [float(value) for value in rows["frame threshold"]] == list(FRAME_SWEEP)
    assert all(0 <= float(value) <= 1 for value in rows["note F1"] + rows["note-with-offsets F1"])
    best = lines[-1].split()
    assert best[0] == "best:" and float(best[2]) in ONSET_SWEEP and float(best[4]) in FRAME_SWEEP
    assert sorted(os.listdir(logdir)) == before                  # it only reports: no results file
