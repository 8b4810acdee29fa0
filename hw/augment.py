"""Random equalisation (`train.py --augment`), tuning (`train.py --detune`) and background noise
(`train.py --noise`) of training crops.

A piano the model never heard differs from the ones it trained on first of all in its spectral envelope:
how bright it is, how full its bass, where its case, the room and the microphones add or take away. Passing
each training crop through a random smooth equaliser tells the model that these do not change which notes
sound. The equaliser's gain in dB, over octaves from 1 kHz: a tilt of up to EQ_TILT_DB per octave, plus
EQ_BUMPS bell-shaped bumps or dips of up to EQ_BUMP_DB, each 0.3 to 1.5 octaves wide, at random centres
between MEL_FMIN and MEL_FMAX. One curve per crop, applied in the frequency domain.

A model that only heard pianos tuned to A = 440 Hz learns where each key's partials lie to within a few
cents, and fails on a piano tuned elsewhere (tuning.py). Playing each training crop up to DETUNE_CENTS
sharper or flatter (resampled, so a little faster or slower too, its labels moved with it) tells it that a
key is a key however the piano is tuned.

The kit's pianos are recorded in quiet rooms; users record on phones, with fans, traffic and hiss under the
music, and a model that never heard noise takes quiet notes for it and misses them. Adding noise under a
share (NOISE_SHARE) of the training crops, at a level NOISE_SNR_DB below the crop's and of a colour between
hiss and rumble (NOISE_SLOPE), tells it that noise is not notes.
"""
import math

import torch

from constants import (DETUNE_CENTS, EQ_BUMP_DB, EQ_BUMPS, EQ_TILT_DB, MEL_FMAX, MEL_FMIN, NOISE_SHARE,
                       NOISE_SLOPE, NOISE_SNR_DB, SAMPLE_RATE)
from tuning import resample, retime_roll


def random_gains_db(frequencies, crops, generator):
    """crops x len(frequencies) gains in dB, drawn with `generator` (on the CPU)."""
    octaves = torch.log2(frequencies.clamp(min=MEL_FMIN) / 1000.0)

    def uniform(low, high):
        return low + (high - low) * torch.rand(crops, 1, generator=generator)
    gains = uniform(-EQ_TILT_DB, EQ_TILT_DB) * octaves
    for _ in range(EQ_BUMPS):
        centre = uniform(math.log2(MEL_FMIN / 1000.0), math.log2(MEL_FMAX / 1000.0))
        width = uniform(0.3, 1.5)
        gains = gains + uniform(-EQ_BUMP_DB, EQ_BUMP_DB) * torch.exp(-0.5 * ((octaves - centre) / width) ** 2)
    return gains


def random_equalizer(audio, generator):
    """Each crop of `audio` (crops x samples) through its own random equaliser; same shape and device."""
    samples = audio.shape[-1]
    frequencies = torch.fft.rfftfreq(samples, 1.0 / SAMPLE_RATE)
    gains = 10.0 ** (random_gains_db(frequencies, audio.shape[0], generator) / 20.0)
    spectrum = torch.fft.rfft(audio.float(), dim=-1) * gains.to(audio.device)
    return torch.fft.irfft(spectrum, n=samples, dim=-1).to(audio.dtype)


def random_tuning(batch, generator):
    """Each crop of `batch` (audio: crops x samples; label rolls: crops x frames x 88) played a random number
    of cents sharper or flatter, up to DETUNE_CENTS; same shapes and device. Returns (batch, cents)."""
    crops, samples = batch["audio"].shape
    cents = DETUNE_CENTS * (2 * torch.rand(crops, generator=generator) - 1)
    tuned = {key: value.clone() if torch.is_tensor(value) else value for key, value in batch.items()}
    for crop, ratio in enumerate(2.0 ** (cents / 1200)):
        tuned["audio"][crop] = resample(batch["audio"][crop], ratio.item(), length=samples)
        for key in ("onset", "offset", "frame", "velocity"):
            if key in batch:
                tuned[key][crop] = retime_roll(batch[key][crop], ratio.item(), one_frame=key in ("onset", "offset"))
    return tuned, cents


def random_noise(audio, generator):
    """Background noise under a share of the crops of `audio` (crops x samples); same shape and device.
    Returns (audio, snr_db, slope): per crop, the level in dB of the crop over its noise (inf where the crop
    stays clean) and the noise's spectral slope."""
    crops = audio.shape[0]

    def uniform(low, high):
        return low + (high - low) * torch.rand(crops, generator=generator)
    noisy = torch.rand(crops, generator=generator) < NOISE_SHARE
    snr_db, slope = uniform(*NOISE_SNR_DB), uniform(*NOISE_SLOPE)
    snr_db[~noisy] = math.inf
    return add_noise(audio, snr_db, slope, generator), snr_db, slope


def add_noise(audio, snr_db, slope, generator):
    """`audio` (crops x samples) with Gaussian noise under each crop, `snr_db` dB below the crop's level (none
    where it is inf), its power falling as 1 / frequency ** `slope` (one of each per crop)."""
    samples = audio.shape[-1]
    # Shaped in the frequency domain, flat below MEL_FMIN: a steep slope's power stays in the spectrum the
    # model hears instead of piling up at a few hertz.
    frequencies = torch.fft.rfftfreq(samples, 1.0 / SAMPLE_RATE).clamp(min=MEL_FMIN)
    spectrum = torch.complex(torch.randn(len(audio), len(frequencies), generator=generator),
                             torch.randn(len(audio), len(frequencies), generator=generator))
    noise = torch.fft.irfft(spectrum * frequencies ** (-slope[:, None] / 2), n=samples, dim=-1)

    def rms(x):
        return x.double().pow(2).mean(-1).sqrt()
    gain = rms(audio.cpu()) * 10.0 ** (-snr_db.double() / 20) / rms(noise)
    return audio + (noise * gain[:, None]).to(audio.device, audio.dtype)
