"""Transcribe recordings with a trained model: MIDI, a resynthesis, a picture and the raw probabilities.

    python transcribe.py runs/exp_.../model-best.pt my_recording.mp3 [more files...] [--out DIR]
    python transcribe.py runs/exp_.../model-best.pt take.flac --reference take.mid   # also score it
    python transcribe.py --pretrained my_recording.mp3       # the kit's own trained model (pretrained/)
    python transcribe.py model.onnx my_recording.mp3         # a model from export.py, through onnxruntime

Reads WAV, FLAC, OGG or MP3 at any sample rate and channel count (mixed to mono, resampled to 16 kHz).
Long recordings run in chunks, so memory stays bounded. For each input NAME it writes, in --out:
NAME.npz (frame and onset probabilities, and velocity when the model predicts it), NAME.mid, NAME.wav
(the MIDI played by FluidSynth) and NAME.png (the log-mel spectrogram over the frame probabilities and the
notes found, in rows of 30 s; with --reference, the true notes too). A recording that cannot be read is
reported and skipped; the others are still transcribed.

A piano tuned away from A = 440 Hz confuses a model that never heard one: each recording's tuning is
measured first (tuning.py), and one that lies TUNING_TOLERANCE cents or more away is transcribed as if
played in tune (--tuning 0 leaves it as it is; --tuning CENTS says how sharp it is).
"""
import argparse
import os
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly
from tqdm import tqdm

from constants import FRAME_THRESHOLD, HOP_SIZE, MIN_MIDI, ONSET_THRESHOLD, SAMPLE_RATE
from evaluate import check_weak_onset_threshold, evaluate_piece, extract_notes, load_model, probability
from export import PRETRAINED, THRESHOLDS
from tuning import estimate_tuning, resample, retime_probabilities

CHUNK_SECONDS = 30         # audio per forward pass
CONTEXT_SECONDS = 2        # extra audio on each side of a chunk, so LSTMs see across the cut
CONSTANT_VELOCITY = 80     # for models that do not predict velocity (the 2020 code wrote 127)
VELOCITY_SCALE, VELOCITY_OFFSET = 80, 10   # predicted velocity (0-1) to MIDI as Magenta does: 10 to 90
ROW_SECONDS = 30           # the picture wraps long recordings into rows this long
MAX_ROWS = 20              # and draws at most the first 10 minutes
TUNING_TOLERANCE = 8       # cents from A = 440 Hz left as they are (the kit's own renders measure within 5)


class RecordingError(Exception):
    """A recording (or its reference MIDI) that cannot be transcribed: the others of a batch still are."""


def read_audio(path):
    """Float32 mono audio at SAMPLE_RATE from any file soundfile can read."""
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        raise RecordingError(f"cannot read audio file {path} ({error})")
    if len(audio) == 0:
        raise RecordingError(f"audio file {path} is empty")
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        ratio = Fraction(SAMPLE_RATE, rate)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    return audio


def predict(model, audio, device, name=None):
    """Frame and onset probabilities (T x 88) for the whole recording, one chunk at a time, and velocity
    (T x 88, in [0, 1]) when the model predicts it (otherwise None). With a name, recordings of several
    chunks show a progress bar."""
    n_frames = len(audio) // HOP_SIZE
    chunk = CHUNK_SECONDS * SAMPLE_RATE // HOP_SIZE
    context = CONTEXT_SECONDS * SAMPLE_RATE // HOP_SIZE
    padded = np.pad(audio[: n_frames * HOP_SIZE], (context * HOP_SIZE, (context + chunk) * HOP_SIZE))
    frames, onsets, velocities = [], [], []
    with torch.no_grad():
        starts = range(0, n_frames, chunk)
        for start in tqdm(starts, desc=name, unit="chunk", leave=False, disable=name is None or len(starts) < 2):
            piece = padded[start * HOP_SIZE:(start + chunk + 2 * context) * HOP_SIZE]
            outputs = model(torch.from_numpy(piece).to(device)[None])
            kept = slice(context, context + chunk)
            frames.append(torch.sigmoid(outputs[0][0, kept]).cpu().numpy())
            onsets.append(torch.sigmoid(outputs[1][0, kept]).cpu().numpy())
            if len(outputs) == 4:
                velocities.append(outputs[3][0, kept].clamp(0, 1).cpu().numpy())
    velocity = np.concatenate(velocities)[:n_frames] if velocities else None
    return np.concatenate(frames)[:n_frames], np.concatenate(onsets)[:n_frames], velocity


def measured_tuning(audio):
    """How many cents sharp the recording's piano is (tuning.py), or 0 within TUNING_TOLERANCE of in tune."""
    cents = estimate_tuning(audio)
    return cents if abs(cents) >= TUNING_TOLERANCE else 0.0


def predict_in_tune(model, audio, device, cents, name=None):
    """predict() on the recording played `cents` lower (in tune, when it is `cents` sharp), its probabilities
    moved back to the recording's own frames."""
    if cents == 0:
        return predict(model, audio, device, name)
    ratio = 2 ** (-cents / 1200)                   # the in-tune audio plays this many times faster
    frame_prob, onset_prob, velocity = predict(model, resample(torch.from_numpy(audio), ratio).numpy(), device, name)

    def in_recording_frames(roll):
        return retime_probabilities(torch.from_numpy(roll), 1 / ratio, frames=len(audio) // HOP_SIZE).numpy()
    return (in_recording_frames(frame_prob), in_recording_frames(onset_prob),
            None if velocity is None else in_recording_frames(velocity))


def note_seconds(intervals):
    """[start, end) frames to seconds. A note is labelled in the frame its start falls in (dataset.py rounds
    down), so a note found in frame i started somewhere inside it: the frame's middle is the best guess, where
    the frame's start would put every note 16 ms early."""
    return (np.asarray(intervals, dtype=np.float64) + 0.5) * HOP_SIZE / SAMPLE_RATE


def write_midi(path, pitches, intervals, velocities=None):
    import pretty_midi
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0, name="Piano")
    seconds = note_seconds(intervals)
    for i, (pitch, (start, end)) in enumerate(zip(pitches, seconds)):
        velocity = (int(round(VELOCITY_SCALE * velocities[i] + VELOCITY_OFFSET)) if velocities is not None
                    else CONSTANT_VELOCITY)
        piano.notes.append(pretty_midi.Note(velocity, int(pitch) + MIN_MIDI, float(start), float(end)))
    midi.instruments.append(piano)
    midi.write(path)
    return midi


def soundfont():
    """A piano soundfont for the resynthesis: Debian's FluidR3, else the one inside pretty_midi."""
    debian = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    if os.path.exists(debian):
        return debian
    import pretty_midi
    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


def draw(path, audio, frame_prob, pitches, intervals, title, reference=None):
    """The log-mel spectrogram over the frame probabilities, the notes found (red onsets) and, when given,
    the reference notes (blue lines): one row per ROW_SECONDS, so long recordings stay readable."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from model import LogMelSpectrogram
    frames_per_second = SAMPLE_RATE / HOP_SIZE
    row_frames = int(ROW_SECONDS * frames_per_second)
    rows = min(-(-len(frame_prob) // row_frames), MAX_ROWS)
    drawn = min(len(frame_prob), rows * row_frames)            # the spectrogram of what the picture shows only
    with torch.no_grad():
        mel = LogMelSpectrogram()(torch.from_numpy(audio[: drawn * HOP_SIZE])[None])[0].numpy()
    visible = min(len(frame_prob) / frames_per_second, ROW_SECONDS)
    width = 4 + visible / 2
    fig, axes = plt.subplots(2 * rows, 1, figsize=(width, 4.5 * rows), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 2] * rows})
    starts = note_seconds(intervals)[:, 0]
    for row in range(rows):
        first, last = row * row_frames, min((row + 1) * row_frames, len(frame_prob))
        span = [first / frames_per_second, last / frames_per_second]
        top, bottom = axes[2 * row, 0], axes[2 * row + 1, 0]
        top.imshow(mel[first:last].T, origin="lower", aspect="auto", cmap="magma", extent=[*span, 0, mel.shape[1]])
        top.set_ylabel("mel band")
        bottom.imshow(frame_prob[first:last].T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1,
                      extent=[*span, MIN_MIDI - 0.5, MIN_MIDI + 87.5])
        if reference is not None:
            shown = reference[(reference[:, 0] < last) & (reference[:, 1] > first)]
            bottom.hlines(shown[:, 2] + MIN_MIDI, np.maximum(shown[:, 0], first) / frames_per_second,
                          np.minimum(shown[:, 1], last) / frames_per_second, color="tab:blue", linewidth=1.5,
                          alpha=0.7, label="reference notes")
        found = (intervals[:, 0] >= first) & (intervals[:, 0] < last)
        bottom.scatter(starts[found], pitches[found] + MIN_MIDI, s=6, color="red", label="onsets found", zorder=3)
        bottom.set_ylabel("MIDI pitch")
        for axis in (top, bottom):                  # every row on the same time scale
            axis.set_xlim(span[0], span[0] + visible)
    axes[0, 0].set_title(title)
    axes[1, 0].legend(loc="upper right")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def score_against(reference_path, frame_prob, onset_prob, velocity, onset_threshold=ONSET_THRESHOLD,
                  frame_threshold=FRAME_THRESHOLD, weak_onset_threshold=None):
    """Note rows (onset frame, offset frame, key, velocity) of a reference MIDI file, and the homework's
    metrics of the transcription against it (the MIDI must be aligned with the recording)."""
    from dataset import DataError, note_frames, piano_rolls, read_notes
    try:
        notes = note_frames(read_notes(reference_path), len(frame_prob))
    except DataError as error:
        raise RecordingError(f"--reference: {error}")
    rolls = piano_rolls(notes, 0, len(frame_prob))
    return notes, evaluate_piece(frame_prob, onset_prob, rolls["frame"], rolls["onset"], velocity, rolls["velocity"],
                                 onset_threshold, frame_threshold, weak_onset_threshold)


def transcribe(model, audio_path, out, device, reference_path=None, onset_threshold=ONSET_THRESHOLD,
               frame_threshold=FRAME_THRESHOLD, weak_onset_threshold=None, tuning="auto"):
    name = os.path.splitext(os.path.basename(audio_path))[0]
    audio = read_audio(audio_path)
    if len(audio) < HOP_SIZE:
        raise RecordingError(f"audio file {audio_path} is shorter than one frame ({HOP_SIZE} samples at "
                             f"{SAMPLE_RATE} Hz)")
    cents = measured_tuning(audio) if tuning == "auto" else tuning
    frame_prob, onset_prob, velocity = predict_in_tune(model, audio, device, cents, name)
    pitches, intervals, velocities = extract_notes(onset_prob, frame_prob, velocity, onset_threshold, frame_threshold,
                                                   weak_onset_threshold)
    stem = os.path.join(out, name)
    np.savez_compressed(stem + ".npz", frame=frame_prob, onset=onset_prob,
                        **({"velocity": velocity} if velocity is not None else {}))
    midi = write_midi(stem + ".mid", pitches, intervals, velocities if velocity is not None else None)
    if len(pitches):
        soundfile.write(stem + ".wav", midi.fluidsynth(fs=SAMPLE_RATE, synthesizer=soundfont()), SAMPLE_RATE)
    else:
        soundfile.write(stem + ".wav", np.zeros(len(audio), np.float32), SAMPLE_RATE)
    title = f"{name}: {len(pitches)} notes found"
    reference, scores = None, {}
    if reference_path:
        reference, scores = score_against(reference_path, frame_prob, onset_prob, velocity, onset_threshold,
                                          frame_threshold, weak_onset_threshold)
        title += (f"; against {os.path.basename(reference_path)} ({len(reference)} notes): note F1 "
                  f"{scores['metric/note/f1']:.3f}, frame F1 {scores['metric/frame/frame_f1']:.3f}")
    draw(stem + ".png", audio, frame_prob, pitches, intervals, title, reference)
    seconds = len(audio) / SAMPLE_RATE
    tuned = f", played {abs(cents):.0f} cents {'sharp' if cents > 0 else 'flat'}: transcribed in tune" if cents else ""
    print(f"{audio_path}: {seconds:.1f} s{tuned}, {len(pitches)} notes -> {stem}.{{npz,mid,wav,png}}" +
          (f" (the picture shows the first {MAX_ROWS * ROW_SECONDS // 60} minutes)"
           if seconds > MAX_ROWS * ROW_SECONDS else ""))
    if scores:
        print(f"  against {reference_path}: " + ", ".join(
            f"{label} {scores[key]:.3f}" for label, key in (("note F1", "metric/note/f1"),
                                                          ("note-with-offsets F1", "metric/note-with-offsets/f1"),
                                                          ("frame F1", "metric/frame/frame_f1"))))
    return scores


def load_transcriber(path, backend, device):
    """A torch model from a train.py checkpoint, or an onnxruntime session from an ONNX file (or from a
    checkpoint exported on the fly, for --backend onnx); both are called the same way."""
    if path.endswith(".onnx"):
        if backend == "torch":
            sys.exit(f"{path} is an ONNX model: it runs with --backend onnx (the default for .onnx files)")
        from export import OnnxModel
        if not os.path.exists(path):
            sys.exit(f"no ONNX model at {path}" + (" (this copy of the kit has no pretrained transcriber)"
                                                   if path == PRETRAINED else ""))
        return OnnxModel(path)
    model, _ = load_model(path, device)
    if backend == "onnx":
        from export import as_onnx
        return as_onnx(model)
    return model


def weak_threshold(text):
    """--weak_onset_threshold: a probability, or "none" (no weak onsets, whatever the model carries)."""
    return text if text == "none" else probability(text)


def tuning_cents(text):
    """--tuning: "auto", or cents within a semitone."""
    if text == "auto":
        return text
    try:
        cents = float(text)
    except ValueError:
        cents = None
    if cents is None or not -100 < cents < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is neither auto nor cents between -100 and 100")
    return cents


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="CHECKPOINT AUDIO",
                        help="a checkpoint (.pt from train.py, or .onnx from export.py), then the recordings; "
                             "with --pretrained, the recordings alone")
    parser.add_argument("--pretrained", action="store_true", help="transcribe with the kit's own trained model")
    parser.add_argument("--backend", choices=["torch", "onnx"], default=None,
                        help="run the model in PyTorch or in onnxruntime (default: onnx for .onnx files and "
                             "--pretrained, torch for checkpoints)")
    parser.add_argument("--out", default="transcriptions")
    parser.add_argument("--reference", nargs="+", default=None, metavar="MIDI",
                        help="the true notes, one MIDI file per recording, aligned with it: drawn in the picture, "
                             "and the transcription is scored against them")
    parser.add_argument("--onset_threshold", type=probability,
                        help="onset probability that starts a note (default: the model's own, as the pretrained one "
                             "has, else 0.5)")
    parser.add_argument("--frame_threshold", type=probability,
                        help="frame probability that holds a note (default: the model's own, else 0.5)")
    parser.add_argument("--weak_onset_threshold", type=weak_threshold,
                        help="a lower onset probability that also starts a note as its key's frame switches on, or "
                             "none (default: the model's own, else none)")
    parser.add_argument("--tuning", type=tuning_cents, default="auto", metavar="auto|CENTS",
                        help="how many cents sharp each recording's piano is (negative: flat), to transcribe it in "
                             f"tune; auto (the default) measures it, and leaves it within {TUNING_TOLERANCE} cents; "
                             "0 transcribes it as it is")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    args.checkpoint, args.audio = (PRETRAINED, args.inputs) if args.pretrained else (args.inputs[0], args.inputs[1:])
    if not args.audio:
        parser.error("name a checkpoint and then at least one recording (or --pretrained and the recordings)")
    if args.reference and len(args.reference) != len(args.audio):
        parser.error(f"--reference names {len(args.reference)} MIDI files for {len(args.audio)} recordings; "
                     "give one per recording, in the same order")
    names = [os.path.splitext(os.path.basename(path))[0] for path in args.audio]
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        parser.error(f"more than one recording is named {', '.join(repeated)}: their outputs in --out would overwrite "
                     "each other; transcribe them in separate runs with different --out folders")
    model = load_transcriber(args.checkpoint, args.backend, args.device)
    for flag, value in getattr(model, "thresholds", THRESHOLDS).items():
        if getattr(args, flag) is None:
            setattr(args, flag, value)
    if args.weak_onset_threshold == "none":
        args.weak_onset_threshold = None
    check_weak_onset_threshold(parser, args.weak_onset_threshold, args.onset_threshold)
    os.makedirs(args.out, exist_ok=True)
    failed = []
    for path, reference in zip(args.audio, args.reference or [None] * len(args.audio)):
        try:
            transcribe(model, path, args.out, args.device, reference, args.onset_threshold, args.frame_threshold,
                       args.weak_onset_threshold, args.tuning)
        except RecordingError as error:
            print(f"skipped: {error}", file=sys.stderr)
            failed.append(path)
    if failed:
        sys.exit(f"{len(failed)} of {len(args.audio)} recordings could not be transcribed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
