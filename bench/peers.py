"""The kit's transcription beside basic-pitch's (Spotify's general-purpose transcriber) on the same files.

    python bench/peers.py [CHECKPOINT ...] [--pretrained] [--backend torch onnx] [--data_path data/default]
                          [--group test] [--densest 10] [--thresholds own|validation]
                          [--detune CENTS ...] [--noise DB ...] [--json FILE]

Each checkpoint (a train.py .pt, or an .onnx from export.py) runs on each --backend it can (a .pt on torch,
and on onnxruntime through an export made on the spot; an .onnx on onnxruntime); --pretrained adds the
kit's pretrained transcriber (hw/pretrained/transcriber.onnx, and with torch the run's checkpoint of the
step it was exported from, pretrained-run/.../model-best*.pt). All transcribe every piece of the
group whole, in 30 s chunks as transcribe.py does, at their own thresholds (those an ONNX file carries,
else 0.5) or, with --thresholds validation, at those that score best on the validation pieces
(grader/thresholds.py; basic-pitch keeps its own tuned defaults). All are scored with the kit's own note
matching (mir_eval's rules: onsets within 50 ms; offsets within 20 % or 50 ms for note-with-offsets)
against the notes of the piece's MIDI file as the loader reads them, each at the middle of its frames (as
transcribe.py times the notes it finds: a reference at the frame's start would be 16 ms early on average,
which the kit's notes share and basic-pitch's, timed finer, would pay for). Printed: note F1 and
note-with-offsets F1 overall, per piano, per room family and on the densest pieces (notes per second);
the share of the reference notes each finds in each register of the keyboard (all pieces pooled: where
the misses are); how many of each one's extra notes sit on a played note's second, third or fourth
partial (an octave, a twelfth or two octaves above it, within 50 ms: a loud partial taken for a key),
overall and per piano; and the seconds each needs per minute of audio on this machine. --detune adds the
scores of every piece played so many cents sharp (or flat, when negative), as a piano not tuned to A = 440 Hz
plays it: resampled as train.py --detune resamples, so a little faster or slower, its notes' times scaled to
match; and those of the kit's models when they first play it in tune again, as transcribe.py does (a row
"retuned", where basic-pitch's figures repeat). --noise adds the scores of every piece with pink noise so
many dB under its level, as in a recording made in a noisy room (the same noise for every system, drawn as
grader/thresholds.py draws it for the validation pieces). --json writes the same figures to a file, with the
command, commit and machine that measured them.

basic-pitch is never a dependency of the kit: the first run installs it, with onnxruntime, into its own
virtual environment under runs/peers-venv (its ONNX route, see ../shared/REFERENCE.md) and runs it there.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile
import torch
from mir_eval.transcription import match_notes
from mir_eval.util import hz_to_midi, midi_to_hz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "solutions"), os.path.join(ROOT, "hw")]     # the solutions' models load too
from constants import MIN_MIDI, SAMPLE_RATE  # noqa: E402
from dataset import MAESTRO_small, read_records  # noqa: E402
from evaluate import extract_notes, load_model, note_scores  # noqa: E402
from export import THRESHOLDS, OnnxModel, as_onnx  # noqa: E402
from tuning import resample  # noqa: E402
from data.npm_samples import sha256  # noqa: E402
from grader.reference import source_commit  # noqa: E402
from grader.thresholds import in_pink_noise  # noqa: E402
from train import cpu_name  # noqa: E402
from transcribe import PRETRAINED, measured_tuning, note_seconds, predict_in_tune  # noqa: E402

PEER_VENV = os.path.join(ROOT, "runs", "peers-venv")
PEER_PACKAGES = [["onnxruntime==1.23.2", "librosa==0.11.0", "resampy<0.4.3", "scikit-learn", "mir_eval==0.8.2",
                  "pretty_midi==0.2.11.post0", "setuptools<81"], ["--no-deps", "basic-pitch==0.4.0"]]
# Run inside the peer's environment: transcribe each file, print one JSON line per file.
PEER_SCRIPT = """
import json, sys, time
from basic_pitch import ICASSP_2022_MODEL_PATH
from basic_pitch.inference import Model, predict
model = Model(ICASSP_2022_MODEL_PATH)
for path in sys.argv[1:]:
    started = time.perf_counter()
    _, _, events = predict(path, model)
    notes = [[float(start), float(end), int(pitch)] for start, end, pitch, *_ in events]
    print(json.dumps({"path": path, "seconds": time.perf_counter() - started, "notes": notes}), flush=True)
"""

METRICS = ("note F1", "note-with-offsets F1")
# Registers of the keyboard for the recall table: (name, lowest MIDI pitch, highest), about an octave each.
REGISTERS = [("A0-B1", 21, 35), ("C2-B2", 36, 47), ("C3-B3", 48, 59), ("C4-B4", 60, 71), ("C5-B5", 72, 83),
             ("C6-C8", 84, 108)]
# An extra note this many keys above a played note's onset lies on its 2nd, 3rd or 4th partial.
PARTIAL_KEYS = {12: "octave", 19: "twelfth", 24: "two octaves"}
ONSET_TOLERANCE = 0.05


def peer_python():
    python = os.path.join(PEER_VENV, "bin", "python")
    if not os.path.exists(os.path.join(PEER_VENV, "installed")):
        print(f"installing basic-pitch into {PEER_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", PEER_VENV], check=True)
        for packages in PEER_PACKAGES:
            subprocess.run([python, "-m", "pip", "install", "-q", *packages], check=True)
        open(os.path.join(PEER_VENV, "installed"), "w").close()
    return python


def timed_notes(keys, intervals):
    """Notes on the loader's frames as mir_eval wants them, timed as transcribe.py times its MIDI: (intervals
    in seconds, each at the middle of its frames; pitches in Hz)."""
    return note_seconds(intervals), midi_to_hz(np.asarray(keys) + MIN_MIDI)


def reference_notes(piece):
    """The piece's notes as the loader reads them (frames of 32 ms): (intervals in seconds, pitches in Hz)."""
    notes = piece["notes"]                       # rows: onset frame, offset frame, key 0-87, velocity
    return timed_notes(notes[:, 2], notes[:, :2])


def scores(reference, estimate):
    (ref_intervals, ref_hz), (est_intervals, est_hz) = reference, estimate
    onset_only = note_scores(ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=None)
    with_offsets = note_scores(ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=0.2)
    return dict(zip(METRICS, (onset_only[2], with_offsets[2])))


def register_recall(reference, estimate, low, high):
    """(reference notes found, reference notes) among the keys low-high. Notes match only on their own key,
    so keeping both lists to those keys leaves exactly the matches the whole piece has there."""
    (ref_intervals, ref_hz), (est_intervals, est_hz) = reference, estimate
    ref_keys, est_keys = np.round(hz_to_midi(ref_hz)), np.round(hz_to_midi(est_hz))
    r, e = (ref_keys >= low) & (ref_keys <= high), (est_keys >= low) & (est_keys <= high)
    recall = note_scores(ref_intervals[r], ref_hz[r], est_intervals[e], est_hz[e])[1]
    return recall * r.sum(), r.sum()


def harmonic_extras(reference, estimate):
    """Counts of the estimate's extra notes (those matched to no reference note by onset) and, among them,
    those starting with a reference note 12, 19 or 24 keys below (PARTIAL_KEYS; the nearest partial first)."""
    (ref_intervals, ref_hz), (est_intervals, est_hz) = reference, estimate
    counts = {"extra": 0, **dict.fromkeys(PARTIAL_KEYS.values(), 0)}
    if len(est_hz) == 0:
        return counts
    matched = set()
    if len(ref_hz):
        matched = {e for _, e in match_notes(ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=None)}
    ref_keys, est_keys = np.round(hz_to_midi(ref_hz)), np.round(hz_to_midi(est_hz))
    for index in sorted(set(range(len(est_hz))) - matched):
        counts["extra"] += 1
        together = np.abs(ref_intervals[:, 0] - est_intervals[index, 0]) <= ONSET_TOLERANCE
        for keys, name in PARTIAL_KEYS.items():
            if np.any(together & (ref_keys == est_keys[index] - keys)):
                counts[name] += 1
                break
    return counts


def kit_transcriptions(model, recordings, thresholds, retune=False):
    """(notes, seconds taken) of each recording (float32 arrays at SAMPLE_RATE); with `retune`, played in tune
    first as transcribe.py plays it."""
    results = []
    for audio in recordings:
        started = time.perf_counter()
        cents = measured_tuning(audio) if retune else 0.0
        frame_prob, onset_prob, _ = predict_in_tune(model, audio, "cpu", cents)
        pitches, intervals, _ = extract_notes(onset_prob, frame_prob, **thresholds)
        results.append((timed_notes(pitches, intervals), time.perf_counter() - started))
    return results


def kit_models(checkpoints, pretrained, backends):
    """name -> (a model transcribe.predict can call, its thresholds), for every checkpoint and backend asked
    for. An ONNX model's thresholds are its own (the pretrained one's were chosen on validation pieces)."""
    from grader.pretrained import shipped_checkpoint
    models = {}
    named = [(os.path.basename(path), path) for path in checkpoints]
    if pretrained:
        named.append(("pretrained", PRETRAINED))
        if "torch" in backends:
            run = shipped_checkpoint()
            if run:
                models["pretrained torch"] = load_model(run, "cpu")[0], OnnxModel(PRETRAINED).thresholds
            else:
                print("no checkpoint of the shipped step in pretrained-run/ (a later best replaced it): no torch row")
    for name, path in named:
        if path.endswith(".onnx"):
            model = OnnxModel(path, threads=2)
            models[f"{name} onnx"] = model, model.thresholds
            continue
        model = load_model(path, "cpu")[0]
        for backend in backends:
            models[f"{name} {backend}"] = (model if backend == "torch" else as_onnx(model, threads=2)), THRESHOLDS
    return models


def peer_transcriptions(paths):
    """(notes, seconds taken) of each audio file, by basic-pitch in its own environment."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(PEER_SCRIPT)
    run = subprocess.run([peer_python(), script.name, *paths], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    os.unlink(script.name)
    rows = {}
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows[row["path"]] = row
    if len(rows) != len(paths):
        sys.exit(f"basic-pitch transcribed {len(rows)} of {len(paths)} files:\n{run.stderr[-2000:]}")
    results = []
    for path in paths:
        notes = np.array(rows[path]["notes"], dtype=float).reshape(-1, 3)
        hz = midi_to_hz(notes[:, 2].astype(int))        # as the kit's own notes, so equal keys compare equal
        results.append(((notes[:, :2], hz), rows[path]["seconds"]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", help="train.py checkpoints (.pt) or export.py models (.onnx)")
    parser.add_argument("--pretrained", action="store_true", help="the kit's pretrained transcriber too")
    parser.add_argument("--backend", nargs="+", choices=["torch", "onnx"], default=["torch"],
                        help="run the .pt checkpoints on these (.onnx files always run on onnx)")
    parser.add_argument("--data_path", default=os.path.join(ROOT, "data", "default"))
    parser.add_argument("--group", default="test")
    parser.add_argument("--densest", type=int, default=10, help="how many of the densest pieces to score apart")
    parser.add_argument("--thresholds", choices=["own", "validation"], default="own",
                        help="each model's own thresholds, or those chosen on the validation pieces of --data_path")
    parser.add_argument("--detune", nargs="+", type=float, default=[], metavar="CENTS",
                        help="also score every piece played this many cents sharp (negative: flat)")
    parser.add_argument("--noise", nargs="+", type=float, default=[], metavar="DB",
                        help="also score every piece with pink noise this many dB under it")
    parser.add_argument("--json", metavar="FILE", help="also write the figures there, with the command, commit and "
                        "machine (hw/pretrained/peers.json for the shipped transcriber)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    models = kit_models(args.checkpoints, args.pretrained, args.backend)
    if not models:
        parser.error("name a checkpoint, or --pretrained")
    if args.thresholds == "validation":
        from grader.thresholds import choose_thresholds
        models = {name: (model, choose_thresholds(model, args.data_path)) for name, (model, _) in models.items()}
    for name, (_, thresholds) in models.items():
        weak = thresholds.get("weak_onset_threshold")
        print(f"{name}: onset threshold {thresholds['onset_threshold']}, frame threshold "
              f"{thresholds['frame_threshold']}" + (f", weak onset threshold {weak}" if weak is not None else ""))
    dataset = MAESTRO_small(args.data_path, groups=[args.group], sequence_length=None, random_sample=False)
    made_by = {os.path.normpath(os.path.join(args.data_path, r["audio_filename"])): r
               for r in read_records(args.data_path)}
    records = [made_by.get(os.path.normpath(piece["path"]), {}) for piece in dataset.pieces]
    minutes = sum(len(piece["audio"]) for piece in dataset.pieces) / SAMPLE_RATE / 60
    density = [len(piece["notes"]) / (len(piece["audio"]) / SAMPLE_RATE) for piece in dataset.pieces]
    references = [reference_notes(piece) for piece in dataset.pieces]
    recordings = [np.asarray(piece["audio"], dtype=np.float32) / 32768 for piece in dataset.pieces]
    systems = {name: kit_transcriptions(model, recordings, thresholds) for name, (model, thresholds) in models.items()}
    systems["basic-pitch"] = peer_transcriptions([piece["path"] for piece in dataset.pieces])
    per_piece = {name: [scores(ref, est) for ref, (est, _) in zip(references, rows)] for name, rows in systems.items()}
    detuned = {cents: detuned_scores(cents, recordings, references, models) for cents in args.detune}
    noisy = {snr_db: noisy_scores(snr_db, recordings, references, models) for snr_db in args.noise}

    groups = {"all": list(range(len(dataset.pieces)))}
    for kind, field in [("piano", lambda r: r.get("piano")), ("room family", lambda r: (r.get("room") or {}).get("family"))]:
        for label in sorted({field(r) for r in records} - {None}):
            groups[f"{kind} {label}"] = [i for i, r in enumerate(records) if field(r) == label]
    densest = list(np.argsort(density)[::-1][:args.densest])
    groups[f"densest {len(densest)} ({min(density[i] for i in densest):.1f}+ notes/s)"] = densest
    figures = {"command": "python bench/peers.py " + " ".join(sys.argv[1:]), "git_commit": source_commit(),
               "machine": cpu_name(), "threads": torch.get_num_threads(),
               "data_path": os.path.relpath(os.path.abspath(args.data_path), ROOT), "group": args.group,
               "minutes of audio": round(minutes, 3),
               "files": {os.path.relpath(path, ROOT): sha256(path) for path in
                         args.checkpoints + ([PRETRAINED] if args.pretrained else [])},
               "thresholds": {name: thresholds for name, (_, thresholds) in models.items()}, "groups": {},
               "registers": {}, "harmonic extras": {}, "speed": {}}
    as_run = {name: name for name in systems}
    for group, indices in groups.items():
        figures["groups"][group] = group_means(per_piece, indices, as_run)
    every_piece = list(range(len(recordings)))
    for cents, rows in detuned.items():
        figures["groups"][f"all, played {cents:+g} cents"] = group_means(rows, every_piece, as_run)
        figures["groups"][f"all, played {cents:+g} cents, retuned"] = group_means(
            rows, every_piece, {name: f"{name}, retuned" if name in models else name for name in systems})
    for snr_db, rows in noisy.items():
        figures["groups"][f"all, pink noise {snr_db:g} dB under"] = group_means(rows, every_piece, as_run)
    for register, low, high in REGISTERS:
        found = {name: np.sum([register_recall(ref, est, low, high) for ref, (est, _) in zip(references, rows)], axis=0)
                 for name, rows in systems.items()}
        count = int(next(iter(found.values()))[1])
        figures["registers"][register] = {"notes": count, "recall": {name: round(float(found[name][0]) / max(count, 1),
                                                                                  4) for name in systems}}
    extras = {name: [harmonic_extras(ref, est) for ref, (est, _) in zip(references, rows)]
              for name, rows in systems.items()}
    for group, indices in groups.items():
        if group == "all" or group.startswith("piano "):
            figures["harmonic extras"][group] = {name: {key: sum(extras[name][i][key] for i in indices)
                                                        for key in extras[name][0]} for name in systems}
    for name, rows in systems.items():
        seconds = sum(seconds for _, seconds in rows)
        figures["speed"][name] = {"seconds per minute of audio": round(seconds / minutes, 3),
                                  "seconds of audio per second": round(minutes * 60 / seconds, 1)}
    print("\n".join(table_lines(figures, list(systems))))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
        print("wrote", args.json)


def group_means(per_piece, indices, columns):
    """A row of the figures: the number of pieces and, per metric, each column's mean over those pieces.
    per_piece: name -> per-piece scores; columns: column -> the name whose scores fill it."""
    def mean(name, key):
        return round(float(np.mean([per_piece[name][i][key] for i in indices])), 4)
    return {"pieces": len(indices), **{key: {column: mean(name, key) for column, name in columns.items()}
                                       for key in METRICS}}


def detuned_scores(cents, recordings, references, models):
    """name -> per-recording scores of every system on the recordings played `cents` sharp: resampled, so
    they also play 2 ** (cents / 1200) times faster, and the reference notes' times are divided by that."""
    ratio = 2 ** (cents / 1200)
    played = [resample(torch.from_numpy(audio), ratio).numpy() for audio in recordings]
    moved = [(intervals / ratio, hz) for intervals, hz in references]
    systems = {name: kit_transcriptions(model, played, thresholds) for name, (model, thresholds) in models.items()}
    systems.update({f"{name}, retuned": kit_transcriptions(model, played, thresholds, retune=True)
                    for name, (model, thresholds) in models.items()})
    systems["basic-pitch"] = peer_transcriptions_of(played)
    return {name: [scores(ref, est) for ref, (est, _) in zip(moved, rows)] for name, rows in systems.items()}


def noisy_scores(snr_db, recordings, references, models):
    """name -> per-recording scores of every system on the recordings with pink noise `snr_db` dB under them."""
    played = [in_pink_noise(torch.from_numpy(audio), snr_db, seed=index).numpy()
              for index, audio in enumerate(recordings)]
    systems = {name: kit_transcriptions(model, played, thresholds) for name, (model, thresholds) in models.items()}
    systems["basic-pitch"] = peer_transcriptions_of(played)
    return {name: [scores(ref, est) for ref, (est, _) in zip(references, rows)] for name, rows in systems.items()}


def peer_transcriptions_of(recordings):
    """basic-pitch's transcriptions of audio arrays (written as 16-bit FLAC files for it to read)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"{index:03d}.flac") for index in range(len(recordings))]
        for path, audio in zip(paths, recordings):
            soundfile.write(path, np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16")
        return peer_transcriptions(paths)


def table_lines(figures, systems):
    """The printed report of a run's figures."""
    width = max(24, *(len(name) + 2 for name in systems))
    lines = [f"{figures['groups']['all']['pieces']} {figures['group']} pieces, {figures['minutes of audio']:.1f} min "
             "of audio; note F1 / note-with-offsets F1",
             f"{'':34}{'pieces':>7}" + "".join(f"{name:>{width}}" for name in systems)]
    for group, row in figures["groups"].items():
        cells = [f"{row[METRICS[0]][name]:.3f} / {row[METRICS[1]][name]:.3f}" for name in systems]
        lines.append(f"{group:34}{row['pieces']:7d}" + "".join(f"{cell:>{width}}" for cell in cells))
    lines += ["note recall by register: the share of the reference notes found, all pieces pooled",
              f"{'':34}{'notes':>7}" + "".join(f"{name:>{width}}" for name in systems)]
    for register, row in figures["registers"].items():
        recalls = [f"{row['recall'][name]:.3f}" for name in systems]
        lines.append(f"{register:34}{row['notes']:7d}" + "".join(f"{recall:>{width}}" for recall in recalls))
    lines += ["extra notes on a played note's partials: octave / twelfth / two octaves above, % of the extra notes",
              f"{'':34}{'':>7}" + "".join(f"{name:>{width}}" for name in systems)]
    for group, row in figures["harmonic extras"].items():
        cells = ["/".join(f"{100 * row[name][key] / max(row[name]['extra'], 1):.0f}" for key in PARTIAL_KEYS.values())
                 + f" of {row[name]['extra']}" for name in systems]
        lines.append(f"{group:34}{'':7}" + "".join(f"{cell:>{width}}" for cell in cells))
    for name, speed in figures["speed"].items():
        lines.append(f"{name}: {speed['seconds per minute of audio']:.2f} s per minute of audio, "
                     f"{speed['seconds of audio per second']:.0f} s of audio per second ({figures['threads']} threads)")
    return lines


if __name__ == "__main__":
    main()
