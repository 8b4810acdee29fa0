"""Pianos from the freepats General MIDI set (Debian package freepats), stored as Gravis UltraSound patches.

A GUS patch (.pat) holds a few recordings of an instrument, each with the pitch it sounds at and a short loop
near its end, which a General MIDI player repeats for as long as a key is held; a key far from every recording
is read faster or slower. The kit turns each recording into a whole note once: its loop repeated with the
decay the recording had before the loop, until the note has died away, then read at 16 kHz and tuned to the
nearest key by the pitch measured in it (the pitches the patches declare are a few cents off, and for
freepats-grand's lowest recording half a semitone). The notes are kept as WAV files in a cache folder,
where the sample player (sampler.py) plays them as it plays the npm sets' OGG files (one velocity layer,
no release noises).

    python -m data samples      prepares them with the npm sets; `make setup` installs the Debian package

The patch file is pinned by its sha256: a patch of another freepats version is refused.
"""
import os
import struct
from dataclasses import dataclass

import numpy as np
import soundfile
from mir_eval.util import hz_to_midi, midi_to_hz
from scipy.signal import resample_poly

from hw.constants import SAMPLE_RATE

from .npm_samples import SamplesUnavailable, cache_folder, files_intact, read_stamp, sha256, write_stamp

MAGIC = b"GF1PATCH110\0"
FILE_HEADER, INSTRUMENT_HEADER, LAYER_HEADER, SAMPLE_HEADER = 129, 63, 47, 96     # bytes
SIXTEEN_BITS, UNSIGNED, LOOPED = 1, 2, 4                                        # bits of a sample's mode
NOMINAL_RATE = 44100          # recordings are resampled from this rate; one made at another rate is retuned
DECAY_DB_PER_S = (2.0, 60.0)  # the decay carried on past a recording's end is kept within these
DECAY_FROM = 0.25             # seconds: the attack before this is left out when the decay is measured
FRAME = 0.05                  # seconds per level measurement
TUNING_WINDOW = (0.1, 0.7)    # seconds of a recording whose pitch is measured
TUNING_RANGE = 70             # cents around the declared pitch in which the measured one is looked for
DIES_AT_DB = -70              # an unrolled note ends this far below the level at its loop
LONGEST = 20.0                # seconds, at most


@dataclass(frozen=True)
class Recording:
    pitch: float              # MIDI pitch it sounds at when played at `rate`, as the patch declares it
    rate: int
    audio: np.ndarray         # float32, -1 to 1
    loop: tuple               # (start, end) in samples; None when not looped


def read_patch(path):
    """The recordings of a one-instrument, one-layer GUS patch file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:len(MAGIC)] != MAGIC:
        raise SamplesUnavailable(f"{path} is not a GUS patch (GF1PATCH110) file")
    position = FILE_HEADER + INSTRUMENT_HEADER
    count = data[position + 6]                    # after the layer's duplicate flag, number and size
    position += LAYER_HEADER
    recordings = []
    for _ in range(count):
        size, loop_start, loop_end, rate, _, _, root_millihertz = struct.unpack_from("<IIIHIII", data, position + 8)
        mode = data[position + 55]
        position += SAMPLE_HEADER
        raw = data[position:position + size]
        position += size
        width = 2 if mode & SIXTEEN_BITS else 1
        audio = np.frombuffer(raw, dtype="<u2" if width == 2 else "u1") if mode & UNSIGNED else \
            np.frombuffer(raw, dtype="<i2" if width == 2 else "i1")
        audio = audio.astype(np.float32)
        if mode & UNSIGNED:
            audio -= 2 ** (8 * width - 1)
        audio /= 2 ** (8 * width - 1)
        loop = (loop_start // width, loop_end // width) if mode & LOOPED else None
        recordings.append(Recording(float(hz_to_midi(root_millihertz / 1000)), rate, audio, loop))
    if position != len(data):
        raise SamplesUnavailable(f"{path} is damaged: its samples end at byte {position} of {len(data)}")
    return recordings


def decay_rate(recording):
    """dB per second at which the recording fades between its attack and its loop (a least-squares line
    through the level of each FRAME), kept within DECAY_DB_PER_S."""
    frame = int(FRAME * recording.rate)
    end = recording.loop[0] if recording.loop else len(recording.audio)
    frames = recording.audio[int(DECAY_FROM * recording.rate):end]
    frames = frames[:len(frames) // frame * frame].reshape(-1, frame)
    if len(frames) < 3:
        return DECAY_DB_PER_S[1]
    levels = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)
    slope = np.polyfit(np.arange(len(levels)) * FRAME, levels, 1)[0]
    return float(np.clip(-slope, *DECAY_DB_PER_S))


def measured_pitch(recording):
    """The MIDI pitch the recording sounds at: the period of its strongest autocorrelation within TUNING_RANGE
    of the declared pitch, refined by parabolic interpolation."""
    audio = recording.audio[int(TUNING_WINDOW[0] * recording.rate):int(TUNING_WINDOW[1] * recording.rate)]
    audio = audio.astype(np.float64) - audio.mean()
    correlation = np.fft.irfft(np.abs(np.fft.rfft(audio, 2 * len(audio))) ** 2)[:len(audio)]
    period = recording.rate / float(midi_to_hz(recording.pitch))
    spread = 2 ** (TUNING_RANGE / 1200)
    lags = np.arange(int(period / spread), int(period * spread) + 2)
    lag = lags[np.argmax(correlation[lags])]
    before, at, after = correlation[lag - 1:lag + 2]
    lag = lag + 0.5 * (before - after) / (before - 2 * at + after)
    return float(hz_to_midi(recording.rate / lag))


def unroll(recording):
    """The recording as a whole note at SAMPLE_RATE, tuned to the key nearest its measured pitch: the loop
    repeated, fading at the recording's own rate, until DIES_AT_DB or LONGEST."""
    audio = recording.audio
    if recording.loop:
        start, end = recording.loop
        fade = decay_rate(recording)
        seconds = min(end / recording.rate + -DIES_AT_DB / fade, LONGEST)
        repeats = int(np.ceil(max(seconds * recording.rate - end, 0) / (end - start)))
        tail = np.tile(audio[start:end], repeats)
        tail *= 10 ** (-fade * np.arange(len(tail)) / recording.rate / 20)
        audio = np.concatenate([audio[:end], tail])
    divisor = np.gcd(SAMPLE_RATE, NOMINAL_RATE)
    audio = resample_poly(audio, SAMPLE_RATE // divisor, NOMINAL_RATE // divisor)
    # Read at NOMINAL_RATE, the recording sounds at its pitch times NOMINAL_RATE / rate; retune it to the key.
    pitch = measured_pitch(recording)
    key = int(round(pitch))
    sounds_at = float(midi_to_hz(pitch)) * NOMINAL_RATE / recording.rate
    step = float(midi_to_hz(key)) / sounds_at
    length = int((len(audio) - 1) / step)
    return np.interp(np.arange(length) * step, np.arange(len(audio)), audio).astype(np.float32)


@dataclass(frozen=True)
class PatchSet:
    """One piano of a Debian package of GUS patches, played by the sample player like an npm set."""
    name: str                 # the kit's name of the piano (data/render.py)
    package: str              # the Debian package that installs it
    version: str
    path: str                 # the patch file it installs
    digest: str               # the patch file's sha256
    pitches: tuple            # the keys its recordings are tuned to, lowest first
    licence: str
    layers: int = 1
    releases: bool = False

    @property
    def cache(self):
        return cache_folder(self.name, self.version)

    def sampled_pitches(self):
        return {pitch: f"note-{pitch:03d}" for pitch in self.pitches}

    def sample_path(self, pitch, layer, cache=None):
        return os.path.join(cache or self.cache, "audio", f"{self.sampled_pitches()[pitch]}.wav")

    def stamp_path(self, cache):
        return os.path.join(cache, "stamps", "notes.json")

    def check_patch(self):
        if not os.path.exists(self.path):
            raise SamplesUnavailable(f"the {self.name} piano's patch {self.path} is missing: run `make setup` "
                                     f"(or `sudo apt-get install {self.package}`)")
        if sha256(self.path) != self.digest:
            raise SamplesUnavailable(f"{self.path} is not the patch of {self.package} {self.version} that this kit "
                                     f"expects: install that version of the Debian package {self.package}")

    def intact(self, cache):
        stamp = read_stamp(self.stamp_path(cache))
        return bool(stamp) and stamp.get("version") == self.version and files_intact(os.path.join(cache, "audio"),
                                                                                     stamp["files"])

    def fetch(self, cache=None, log=print):
        """Unroll the patch's notes into the cache unless they are there and intact; returns the cache folder."""
        cache = cache or self.cache
        self.check_patch()
        if self.intact(cache):
            return cache
        log(f"unrolling the {self.name} piano's notes from {self.path} into {cache}")
        recordings = read_patch(self.path)
        keys = tuple(int(round(r.pitch)) for r in recordings)
        if keys != self.pitches:
            raise SamplesUnavailable(f"{self.path} holds recordings of keys {keys}, not {self.pitches}")
        audio_folder = os.path.join(cache, "audio")
        os.makedirs(audio_folder, exist_ok=True)
        files = {}
        for key, recording in zip(keys, recordings):
            name = os.path.basename(self.sample_path(key, 1, cache))
            # Build processes may unroll side by side: each writes its own file, and the rename is atomic.
            part = os.path.join(audio_folder, f"{name}.{os.getpid()}.part")
            soundfile.write(part, unroll(recording), SAMPLE_RATE, subtype="FLOAT", format="WAV")
            os.replace(part, os.path.join(audio_folder, name))
            files[name] = sha256(os.path.join(audio_folder, name))
        write_stamp(self.stamp_path(cache), {"package": self.package, "version": self.version, "files": files})
        return cache

    def require(self, cache=None):
        """The cache folder, its notes unrolled first if they are missing (it needs only the local patch)."""
        return self.fetch(cache, log=lambda *_: None)
