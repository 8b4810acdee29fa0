"""Transcribe recordings with a trained model: MIDI, a resynthesis, a picture and the raw probabilities.

    python transcribe.py runs/exp_.../model-5000.pt my_recording.mp3 [more files...] [--out DIR]

Reads WAV, FLAC, OGG or MP3 at any sample rate and channel count (mixed to mono, resampled to 16 kHz).
Long recordings run in chunks, so memory stays bounded. For each input NAME it writes, in --out:
NAME.npz (frame and onset probabilities, and velocity when the model predicts it), NAME.mid, NAME.wav (the MIDI played by FluidSynth) and
NAME.png (the predicted notes over the log-mel spectrogram).
"""
import argparse
import os
import sys
from fractions import Fraction

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly

from constants import HOP_SIZE, MIN_MIDI, SAMPLE_RATE
from evaluate import extract_notes, load_model

CHUNK_SECONDS = 30         # audio per forward pass
CONTEXT_SECONDS = 2        # extra audio on each side of a chunk, so LSTMs see across the cut
CONSTANT_VELOCITY = 80     # for models that do not predict velocity (the 2020 code wrote 127)
VELOCITY_SCALE, VELOCITY_OFFSET = 80, 10   # predicted velocity (0-1) to MIDI as Magenta does: 10 to 90


def read_audio(path):
    """Float32 mono audio at SAMPLE_RATE from any file soundfile can read."""
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        sys.exit(f"cannot read audio file {path} ({error})")
    if len(audio) == 0:
        sys.exit(f"audio file {path} is empty")
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        ratio = Fraction(SAMPLE_RATE, rate)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    return audio


def predict(model, audio, device):
    """Frame and onset probabilities (T x 88) for the whole recording, one chunk at a time, and velocity
    (T x 88, in [0, 1]) when the model predicts it (otherwise None)."""
    n_frames = len(audio) // HOP_SIZE
    chunk = CHUNK_SECONDS * SAMPLE_RATE // HOP_SIZE
    context = CONTEXT_SECONDS * SAMPLE_RATE // HOP_SIZE
    padded = np.pad(audio[: n_frames * HOP_SIZE], (context * HOP_SIZE, (context + chunk) * HOP_SIZE))
    frames, onsets, velocities = [], [], []
    with torch.no_grad():
        for start in range(0, n_frames, chunk):
            piece = padded[start * HOP_SIZE:(start + chunk + 2 * context) * HOP_SIZE]
            outputs = model(torch.from_numpy(piece).to(device)[None])
            kept = slice(context, context + chunk)
            frames.append(torch.sigmoid(outputs[0][0, kept]).cpu().numpy())
            onsets.append(torch.sigmoid(outputs[1][0, kept]).cpu().numpy())
            if len(outputs) == 4:
                velocities.append(outputs[3][0, kept].clamp(0, 1).cpu().numpy())
    velocity = np.concatenate(velocities)[:n_frames] if velocities else None
    return np.concatenate(frames)[:n_frames], np.concatenate(onsets)[:n_frames], velocity


def write_midi(path, pitches, intervals, velocities=None):
    import pretty_midi
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0, name="Piano")
    seconds = intervals * HOP_SIZE / SAMPLE_RATE
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


def draw(path, audio, frame_prob, pitches, intervals, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from model import LogMelSpectrogram
    with torch.no_grad():
        mel = LogMelSpectrogram()(torch.from_numpy(audio[: len(frame_prob) * HOP_SIZE])[None])[0].numpy()
    seconds = len(frame_prob) * HOP_SIZE / SAMPLE_RATE
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(min(4 + seconds / 2, 40), 7), sharex=True)
    top.imshow(mel.T, origin="lower", aspect="auto", cmap="magma", extent=[0, seconds, 0, mel.shape[1]])
    top.set_ylabel("mel band")
    top.set_title(f"{title}: log-mel spectrogram")
    bottom.imshow(frame_prob.T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1,
                  extent=[0, seconds, MIN_MIDI - 0.5, MIN_MIDI + 87.5])
    starts = intervals[:, 0] * HOP_SIZE / SAMPLE_RATE
    bottom.scatter(starts, pitches + MIN_MIDI, s=6, color="red", label="note onsets")
    bottom.set_ylabel("MIDI pitch")
    bottom.set_xlabel("seconds")
    bottom.set_title(f"frame probability (grey) and the {len(pitches)} notes found")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def transcribe(model, audio_path, out, device):
    name = os.path.splitext(os.path.basename(audio_path))[0]
    audio = read_audio(audio_path)
    if len(audio) < HOP_SIZE:
        sys.exit(f"audio file {audio_path} is shorter than one frame ({HOP_SIZE} samples at {SAMPLE_RATE} Hz)")
    frame_prob, onset_prob, velocity = predict(model, audio, device)
    pitches, intervals, velocities = extract_notes(onset_prob, frame_prob, velocity)
    stem = os.path.join(out, name)
    np.savez_compressed(stem + ".npz", frame=frame_prob, onset=onset_prob,
                        **({"velocity": velocity} if velocity is not None else {}))
    midi = write_midi(stem + ".mid", pitches, intervals, velocities if velocity is not None else None)
    if len(pitches):
        soundfile.write(stem + ".wav", midi.fluidsynth(fs=SAMPLE_RATE, synthesizer=soundfont()), SAMPLE_RATE)
    else:
        soundfile.write(stem + ".wav", np.zeros(len(audio), np.float32), SAMPLE_RATE)
    draw(stem + ".png", audio, frame_prob, pitches, intervals, name)
    print(f"{audio_path}: {len(audio) / SAMPLE_RATE:.1f} s, {len(pitches)} notes -> {stem}.{{npz,mid,wav,png}}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("audio", nargs="+")
    parser.add_argument("--out", default="transcriptions")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    model, _ = load_model(args.checkpoint, args.device)
    os.makedirs(args.out, exist_ok=True)
    for path in args.audio:
        transcribe(model, path, args.out, args.device)


if __name__ == "__main__":
    main()
