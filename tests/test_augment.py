"""hw/augment.py on real audio of the tiny set: the equaliser applies the gain curve it drew, keeps the notes'
timing, differs from crop to crop and repeats under the same seed; the tuning moves the partials by the cents
it drew and the labels with the notes' new times; the noise lies at the level and of the colour it drew, under
about half of the crops."""
import json
import os

import numpy as np
import torch

from augment import random_equalizer, random_gains_db, random_noise, random_tuning
from tuning import resample, retime_roll
from constants import (DETUNE_CENTS, EQ_BUMP_DB, EQ_BUMPS, EQ_TILT_DB, HOP_SIZE, MEL_FMIN, NOISE_SLOPE,
                       NOISE_SNR_DB, SAMPLE_RATE)
from dataset import MAESTRO_small, note_frames, piano_rolls, read_notes


def crops(tiny_data, count=4, samples=81920):
    dataset = MAESTRO_small(tiny_data, groups=["train"], sequence_length=samples, seed=3, random_sample=True)
    return torch.stack([dataset[i % len(dataset)]["audio"].float() for i in range(count)])


def band_levels_db(audio, edges):
    """Energy in dB of each band between consecutive `edges` (Hz), per crop."""
    power = torch.fft.rfft(audio.double(), dim=-1).abs() ** 2
    frequencies = torch.fft.rfftfreq(audio.shape[-1], 1.0 / SAMPLE_RATE)
    return torch.stack([10 * torch.log10(power[:, (frequencies >= lo) & (frequencies < hi)].sum(-1))
                        for lo, hi in zip(edges[:-1], edges[1:])], -1)


def test_the_equaliser_applies_the_curve_it_drew(tiny_data):
    audio = crops(tiny_data)
    out = random_equalizer(audio, torch.Generator().manual_seed(7))
    frequencies = torch.fft.rfftfreq(audio.shape[-1], 1.0 / SAMPLE_RATE)
    gains = random_gains_db(frequencies, len(audio), torch.Generator().manual_seed(7))
    # Narrow bands over the piano's range: the level change is the curve's gain at the band's centre.
    edges = [55 * 2 ** (k / 6) for k in range(0, 37, 2)]          # third-octave bands, 55 Hz to 3.5 kHz
    change = band_levels_db(out, edges) - band_levels_db(audio, edges)
    centres = [np.sqrt(lo * hi) for lo, hi in zip(edges[:-1], edges[1:])]
    expected = torch.stack([gains[:, int(round(c * audio.shape[-1] / SAMPLE_RATE))] for c in centres], -1)
    assert (change - expected).abs().max() < 0.6, (change - expected)
    assert expected.abs().max() > 3                      # the curves are not flat
    # Every curve stays within its bounds, and the crops get different ones.
    octaves = np.log2(np.clip(frequencies.numpy(), MEL_FMIN, None) / 1000)
    bound = EQ_TILT_DB * np.abs(octaves) + EQ_BUMPS * EQ_BUMP_DB
    assert (gains.abs().numpy() <= bound + 1e-6).all()
    assert min((gains[i] - gains[j]).abs().max() for i in range(4) for j in range(i)) > 1


def test_the_notes_keep_their_timing_and_the_seed_repeats(tiny_data):
    audio = crops(tiny_data, count=2)
    out = random_equalizer(audio, torch.Generator().manual_seed(1))
    assert out.shape == audio.shape and out.dtype == audio.dtype
    assert torch.equal(out, random_equalizer(audio, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, random_equalizer(audio, torch.Generator().manual_seed(2)))
    # The loudness envelope (64 ms frames) rises and falls where the input's does: a filter, no echo or shift.
    def envelope(x):
        frames = x[:, : x.shape[-1] // 1024 * 1024].reshape(len(x), -1, 1024)
        return 10 * torch.log10((frames.double() ** 2).mean(-1) + 1e-12)
    for before, after in zip(envelope(audio), envelope(out)):
        rise_before, rise_after = np.diff(before.numpy()), np.diff(after.numpy())
        assert np.corrcoef(rise_before, rise_after)[0, 1] > 0.9


def shift_in_cents(before, after):
    """How many cents the partials of `after` lie above those of `before`: the shift that best aligns their
    magnitude spectra on a logarithmic frequency axis (1-cent steps, 100 Hz to 4 kHz)."""
    def log_spectrum(audio):
        magnitude = np.abs(np.fft.rfft(audio.double().numpy()))
        frequencies = np.fft.rfftfreq(len(audio), 1.0 / SAMPLE_RATE)
        grid = 100 * 2 ** (np.arange(0, 1200 * np.log2(4000 / 100)) / 1200)
        return np.log(np.interp(grid, frequencies, magnitude) + 1e-6)
    a, b = log_spectrum(before), log_spectrum(after)
    shifts = range(-450, 451)
    scores = [np.corrcoef(a[max(0, -k):len(a) - max(0, k)], b[max(0, k):len(b) - max(0, -k)])[0, 1] for k in shifts]
    return shifts[int(np.argmax(scores))]


def test_the_tuning_moves_the_partials_by_the_cents_it_drew(tiny_data):
    dataset = MAESTRO_small(tiny_data, groups=["train"], sequence_length=81920, seed=3, random_sample=True)
    batch = {key: torch.stack([dataset[i][key] for i in range(4)]) for key in ("audio", "onset", "frame")}
    tuned, cents = random_tuning(batch, torch.Generator().manual_seed(5))
    assert all(tuned[key].shape == batch[key].shape for key in batch)
    assert (cents.abs() <= DETUNE_CENTS).all() and cents.std() > 5           # each crop its own tuning
    for crop in range(4):
        assert abs(shift_in_cents(batch["audio"][crop], tuned["audio"][crop]) - cents[crop].item()) <= 3, cents
    again, _ = random_tuning(batch, torch.Generator().manual_seed(5))
    assert torch.equal(again["audio"], tuned["audio"]) and torch.equal(again["onset"], tuned["onset"])
    # A major third up (ratio 1.26): the partials move by 400 cents, the music plays 1.26 times as fast.
    third = 2 ** (400 / 1200)
    audio = batch["audio"][0]
    faster = resample(audio, third)
    assert abs(shift_in_cents(audio, faster) - 400) <= 3

    def envelope(x):
        return 10 * np.log10((x.double().numpy()[: len(x) // HOP_SIZE * HOP_SIZE].reshape(-1, HOP_SIZE) ** 2)
                             .mean(1) + 1e-10)
    played = len(audio) // HOP_SIZE * 3 // 4                # frames of `faster` that still hold music
    slowed = np.interp(np.arange(played) * third, np.arange(len(audio) // HOP_SIZE), envelope(audio))
    assert np.corrcoef(envelope(faster)[:played], slowed)[0, 1] > 0.9
    assert np.corrcoef(envelope(faster)[:played], envelope(audio)[:played])[0, 1] < 0.6


def test_the_labels_move_with_the_notes(tiny_data):
    """Retimed rolls agree with rolls made from the MIDI file's notes at their new times."""
    record = next(r for r in json.load(open(os.path.join(tiny_data, "data.json"))) if r["split"] == "train")
    notes = read_notes(os.path.join(tiny_data, record["midi_filename"]))
    frames = int(notes[:, 1].max() * SAMPLE_RATE / HOP_SIZE) + 10
    rolls = piano_rolls(note_frames(notes, frames), 0, frames)
    for ratio in (2 ** (35 / 1200), 2 ** (-35 / 1200), 2 ** (400 / 1200)):
        played = notes.copy()
        played[:, :2] /= ratio
        expected = piano_rolls(note_frames(played, frames), 0, frames)
        onsets = retime_roll(torch.from_numpy(rolls["onset"]), ratio, one_frame=True).numpy()
        assert onsets.sum() == expected["onset"].sum() > 20         # every onset kept, as one frame
        for frame, key in zip(*np.nonzero(expected["onset"])):     # and within a frame of its new time
            assert onsets[max(frame - 1, 0):frame + 2, key].sum() == 1
        sounding = retime_roll(torch.from_numpy(rolls["frame"]), ratio, one_frame=False).numpy()
        assert (sounding == expected["frame"]).mean() > 0.99
        assert (rolls["frame"] == expected["frame"]).mean() < (sounding == expected["frame"]).mean()


def test_the_noise_lies_at_the_level_and_of_the_colour_it_drew(tiny_data):
    audio = crops(tiny_data, count=24)
    out, snr_db, slope = random_noise(audio, torch.Generator().manual_seed(4))
    assert out.shape == audio.shape and out.dtype == audio.dtype
    noisy = torch.isfinite(snr_db)
    assert 6 <= noisy.sum() <= 18                                   # about half of the crops
    assert torch.equal(out[~noisy], audio[~noisy])                  # the others untouched
    noise = (out - audio).double()
    level = 20 * torch.log10(audio.double().pow(2).mean(-1).sqrt() / noise.pow(2).mean(-1).sqrt())
    assert (level[noisy] - snr_db[noisy].double()).abs().max() < 0.05
    assert NOISE_SNR_DB[0] <= snr_db[noisy].min() and snr_db[noisy].max() <= NOISE_SNR_DB[1]
    assert NOISE_SLOPE[0] <= slope.min() and slope.max() <= NOISE_SLOPE[1] and slope[noisy].std() > 0.2
    # The colour: the noise's level in octave bands from 125 Hz to 4 kHz falls by 3 dB per octave per unit of
    # slope (power density as 1 / f ** slope, summed over bands twice as wide each octave).
    edges = [125 * 2 ** k for k in range(6)]
    for levels, drawn in zip(band_levels_db(noise[noisy], edges), slope[noisy]):
        fall_per_octave = -np.polyfit(np.arange(len(levels)), levels.numpy(), 1)[0]
        assert abs(fall_per_octave - 10 * np.log10(2) * (drawn.item() - 1)) < 0.6, (fall_per_octave, drawn)
    again = random_noise(audio, torch.Generator().manual_seed(4))[0]
    assert torch.equal(again, out) and not torch.equal(random_noise(audio, torch.Generator().manual_seed(5))[0], out)
