"""How far a recording lies from A = 440 Hz, and moving audio and label rolls to another tuning.

A model learns where each key's partials lie to within a few cents, and most pianos are not tuned to
A = 440 Hz exactly: a few cents sharp in a concert hall, often 10 to 30 flat at home. transcribe.py
measures a recording's tuning and plays it in tune before transcribing it; train.py --detune (augment.py)
plays training crops out of tune, so that the model copes by itself.

Moving audio by some cents here means resampling it: it plays 2 ** (cents / 1200) times faster, so its
notes' times move too, and the label rolls (retime_roll) and probability rolls (retime_probabilities) move
with them.
"""
import numpy as np
import torch

from constants import SAMPLE_RATE

TUNING_FFT = 4096            # 3.9 Hz bins, peaks placed between bins by a parabola through the log magnitudes
TUNING_SECONDS = 90          # of the recording measured: plenty of notes, in a fraction of a second
TUNING_RANGE = (80, 2000)    # Hz of the peaks counted: above room rumble, below where inharmonicity grows


def estimate_tuning(audio, rate=SAMPLE_RATE):
    """How many cents the recording's spectral peaks lie above the equal-tempered pitches of A = 440 Hz, in
    [-50, 50): each peak's distance to its nearest key, weighted by its magnitude; the most common distance,
    refined by the mean of those within 15 cents of it. 0 when the recording has no clear peaks."""
    audio = np.asarray(audio[: rate * TUNING_SECONDS], dtype=np.float64)
    if len(audio) < TUNING_FFT:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(audio, TUNING_FFT)[:: TUNING_FFT // 2] * np.hanning(TUNING_FFT)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))
    level = np.log(magnitude + 1e-9)
    below, here, above = level[:, :-2], level[:, 1:-1], level[:, 2:]
    # a peak: a local maximum at least 4 nepers (35 dB) above its frame's median
    frame, bin_ = np.nonzero((here > below) & (here >= above) & (here > np.median(level, axis=1, keepdims=True) + 4))
    if len(frame) == 0:
        return 0.0
    shift = 0.5 * (below[frame, bin_] - above[frame, bin_]) / (below[frame, bin_] - 2 * here[frame, bin_]
                                                                   + above[frame, bin_])
    frequency = (bin_ + 1 + shift) * rate / TUNING_FFT
    counted = (frequency > TUNING_RANGE[0]) & (frequency < TUNING_RANGE[1])
    if counted.sum() < 20:
        return 0.0
    weight = magnitude[frame, bin_ + 1][counted]
    distance = (1200 * np.log2(frequency[counted] / 440.0) + 50) % 100 - 50
    histogram, edges = np.histogram(distance, bins=100, range=(-50, 50), weights=weight)
    smooth = np.convolve(np.concatenate([histogram[-2:], histogram, histogram[:2]]), np.ones(5), mode="valid")
    mode = edges[np.argmax(smooth)] + 0.5
    around = (distance - mode + 50) % 100 - 50                 # distances from the mode, wrapped around
    near = np.abs(around) < 15
    return float((mode + np.average(around[near], weights=weight[near]) + 50) % 100 - 50)


def resample(audio, ratio, length=None):
    """`audio` (1-D tensor) played `ratio` times faster, so 1200 * log2(ratio) cents higher, at the same
    sample rate; all of it, or cut or padded with silence to `length` samples. Band-limited: its spectrum is
    cut or padded."""
    samples = audio.shape[-1]
    played_length = round(samples / ratio)
    played = torch.fft.irfft(torch.fft.rfft(audio.float()), n=played_length) * (played_length / samples)
    if length is None:
        return played.to(audio.dtype)
    out = torch.zeros(length, dtype=audio.dtype, device=audio.device)
    out[:min(length, played_length)] = played[:length].to(audio.dtype)
    return out


def retime_roll(roll, ratio, one_frame, frames=None):
    """A label roll (frames x 88) for the audio played `ratio` times faster: frame t of the result shows
    what was at time t * ratio. One-frame events (onsets, offsets) move to the frame their time falls in, the
    largest value kept where two land together, so none is lost; `frames`: the result's length (default: the
    roll's)."""
    frames = roll.shape[0] if frames is None else frames
    if one_frame:
        target = torch.floor((torch.arange(roll.shape[0], device=roll.device) + 0.5) / ratio).long()
        inside = target < frames
        out = torch.zeros((frames, *roll.shape[1:]), dtype=roll.dtype, device=roll.device)
        moved = roll[inside]
        index = target[inside].view(-1, *[1] * (roll.dim() - 1)).expand_as(moved)
        return out.scatter_reduce_(0, index, moved, reduce="amax")
    source = torch.floor((torch.arange(frames, device=roll.device) + 0.5) * ratio).long()
    inside = source < roll.shape[0]
    out = torch.zeros((frames, *roll.shape[1:]), dtype=roll.dtype, device=roll.device)
    out[inside] = roll[source[inside]]
    return out


def retime_probabilities(roll, ratio, frames=None):
    """A probability roll for the audio played `ratio` times faster: each frame shows the largest value of
    the frames whose time falls in it, so no short peak is skipped, and a frame that none falls in (the audio
    slowed down) shows the value at its time. Moved as one-frame events alone, a two-frame onset peak with
    such a gap in it would read as a key struck twice."""
    return torch.maximum(retime_roll(roll, ratio, one_frame=True, frames=frames),
                         retime_roll(roll, ratio, one_frame=False, frames=frames))
