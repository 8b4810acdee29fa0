"""Where a piece is played and how it is recorded: a simulated room, microphones and a recording chain.

Each piece draws its room and chain from one family (the plan in synth.py chooses the family):

| family | room (m) | RT60 (s) | microphones | chain |
|---|---|---|---|---|
| studio | 5-10 x 4-8 x 2.7-4.5 | 0.25-0.6 | a pair 0.3-1.2 m from the piano | gentle EQ, light compression, SNR 55-75 dB |
| hall | 18-35 x 14-26 x 9-16 | 1.2-2.4 | a pair 3-10 m away | gentle EQ, light compression, SNR 45-65 dB |
| home | 3.5-6 x 3-5 x 2.4-2.9 | 0.3-0.8 | one or two microphones 0.8-3 m away | low cut, EQ, compression, SNR 35-55 dB |
| phone | 3-8 x 3-6 x 2.4-3.2 | 0.3-1.0 | one phone microphone 0.5-3 m away | strong low cut, dull highs, heavy compression, SNR 20-40 dB, always lossy |

The phone family is held out: only the test split draws it. About 30 % of the other pieces also go
through a lossy round trip (MP3 or Ogg Vorbis at a drawn quality), as users' files do.

The room's impulse responses come from pyroomacoustics (image-source method in a shoebox room whose
wall absorption is set by Sabine's formula for the drawn RT60, corrected against the RT60 measured on
the result); the chain (filters and compressor) is
pedalboard's; the lossy codecs are libsndfile's, through soundfile. Everything drawn is kept in the
Room, and data.json records it.
"""
import io
from dataclasses import dataclass

import numpy as np
import soundfile
from scipy.signal import lfilter, oaconvolve

from hw.constants import SAMPLE_RATE

TRAINING_FAMILIES = ["studio", "hall", "home"]
HELD_OUT_FAMILY = "phone"
LOSSY_SHARE = 0.3
DRY_PEAK = 0.5                # the piano's peak before the room: the compressor's thresholds are dBFS
CODEC_BLOCK = 4096            # samples per write to the lossy encoders
RIR_THREADS = 1               # pyroomacoustics adds up the responses from several threads in a racy
                              # order, which changes their last bits from run to run: one is reproducible
MAX_ORDER = 60                # image-source reflection order: enough for the drawn RT60s (a test measures it)

# family -> drawn ranges: room size (length, width, height), RT60, microphone distance, microphones,
# low-cut frequency, high shelf (frequency, gain), compressor (threshold dB, ratio), SNR (dB)
FAMILIES = {
    "studio": dict(size=((5, 10), (4, 8), (2.7, 4.5)), rt60=(0.25, 0.6), distance=(0.3, 1.2), mics=(2, 2),
                   low_cut=(20, 60), shelf=((3000, 6000), (-3, 3)), compressor=((-24, -10), (1.5, 2.5)),
                   snr=(55, 75)),
    "hall": dict(size=((18, 35), (14, 26), (9, 16)), rt60=(1.2, 2.4), distance=(3, 10), mics=(2, 2),
                 low_cut=(20, 60), shelf=((3000, 6000), (-4, 2)), compressor=((-24, -10), (1.5, 2.5)),
                 snr=(45, 65)),
    "home": dict(size=((3.5, 6), (3, 5), (2.4, 2.9)), rt60=(0.3, 0.8), distance=(0.8, 3), mics=(1, 2),
                 low_cut=(40, 120), shelf=((2500, 5000), (-6, 3)), compressor=((-30, -14), (2, 4)),
                 snr=(35, 55)),
    "phone": dict(size=((3, 8), (3, 6), (2.4, 3.2)), rt60=(0.3, 1.0), distance=(0.5, 3), mics=(1, 1),
                  low_cut=(150, 350), shelf=((2500, 4500), (-12, -5)), compressor=((-36, -22), (4, 8)),
                  snr=(20, 40)),
}


@dataclass(frozen=True)
class Room:
    """One piece's room, microphones and recording chain, as drawn."""
    family: str
    size: tuple               # metres: length, width, height
    rt60: float               # seconds for the room's reverberation to fall by 60 dB
    source: tuple             # the piano's position (m)
    mics: tuple               # positions of the microphones (m): one, or a spaced pair mixed to mono
    low_cut_hz: float         # high-pass filter of the chain
    shelf_hz: float           # a high shelf: the microphone's and room's brightness
    shelf_db: float
    threshold_db: float       # compressor
    ratio: float
    peak_dbfs: float          # recording level
    snr_db: float             # signal against background noise (room tone, hiss)
    lossy: str                # "", "mp3" or "vorbis"
    quality: float            # the codec's compression level, 0 (best) to 1

    @classmethod
    def draw(cls, rng, family, lossy_share=LOSSY_SHARE):
        ranges = FAMILIES[family]

        def uniform(pair):
            return float(rng.uniform(*pair))
        size = tuple(round(uniform(side), 2) for side in ranges["size"])
        source = (round(size[0] * uniform((0.2, 0.4)), 2), round(size[1] * uniform((0.3, 0.7)), 2), 1.0)
        distance = uniform(ranges["distance"])
        angle = uniform((-0.6, 0.6))
        centre = np.array([source[0] + distance * np.cos(angle), source[1] + distance * np.sin(angle),
                           uniform((1.1, 2.2))])
        centre[:2] = np.clip(centre[:2], 0.3, np.array(size[:2]) - 0.3)
        count = int(rng.integers(ranges["mics"][0], ranges["mics"][1] + 1))
        spacing = uniform((0.2, 0.6))
        mics = tuple(tuple(round(float(v), 3) for v in centre + [0, (k - (count - 1) / 2) * spacing, 0])
                     for k in range(count))
        lossy = "mp3" if family == HELD_OUT_FAMILY else (
            str(rng.choice(["mp3", "vorbis"])) if rng.random() < lossy_share else "")
        return cls(family=family, size=size, rt60=round(uniform(ranges["rt60"]), 3), source=source, mics=mics,
                   low_cut_hz=round(uniform(ranges["low_cut"]), 1), shelf_hz=round(uniform(ranges["shelf"][0]), 1),
                   shelf_db=round(uniform(ranges["shelf"][1]), 2),
                   threshold_db=round(uniform(ranges["compressor"][0]), 2),
                   ratio=round(uniform(ranges["compressor"][1]), 2), peak_dbfs=round(uniform((-12.0, -1.0)), 2),
                   snr_db=round(uniform(ranges["snr"]), 2), lossy=lossy,
                   quality=round(uniform((0.3, 0.9)), 2) if lossy else 0.0)


def impulse_responses(room):
    """One impulse response per microphone, from pyroomacoustics' image-source model of the room.

    Sabine's formula misjudges small reflective rooms, so the walls are set once more from the
    reverberation time measured on the first result when it misses the drawn one by over 10 %."""
    import pyroomacoustics as pra
    aim = room.rt60
    for _ in range(3):
        responses = shoebox_responses(room, aim)
        measured = pra.experimental.measure_rt60(responses[0], fs=SAMPLE_RATE, decay_db=30)
        if abs(measured - room.rt60) <= 0.1 * room.rt60:
            break
        aim *= room.rt60 / measured
    # Labels are aligned with the sound at the piano, as MAESTRO's are: the direct sound's travel time to
    # the nearest microphone (and the delay of pyroomacoustics' fractional-delay filter) is taken off.
    nearest = min(np.linalg.norm(np.subtract(mic, room.source)) for mic in room.mics)
    start = int(nearest / pra.constants.get("c") * SAMPLE_RATE) + (pra.constants.get("frac_delay_length") - 1) // 2
    return [response[start:] for response in responses]


def shoebox_responses(room, rt60):
    import pyroomacoustics as pra
    pra.constants.set("num_threads", RIR_THREADS)
    absorption, order = pra.inverse_sabine(rt60, list(room.size))
    shoebox = pra.ShoeBox(list(room.size), fs=SAMPLE_RATE, materials=pra.Material(min(absorption, 0.99)),
                          max_order=min(order, MAX_ORDER), air_absorption=True)
    shoebox.add_source(list(room.source))
    shoebox.add_microphone_array(np.array(room.mics, dtype=float).T)
    shoebox.compute_rir()
    return [np.asarray(shoebox.rir[m][0], dtype=np.float64) for m in range(len(room.mics))]


def chain(audio, room):
    """The recording chain: low cut, high shelf and compressor (pedalboard)."""
    import pedalboard
    board = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(cutoff_frequency_hz=room.low_cut_hz),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=room.shelf_hz, gain_db=room.shelf_db),
        pedalboard.Compressor(threshold_db=room.threshold_db, ratio=room.ratio, attack_ms=5.0, release_ms=120.0),
    ])
    return board(audio.astype(np.float32)[None, :], SAMPLE_RATE)[0].astype(np.float64)


def lossy_round_trip(audio, room):
    """Through the codec and back, as a user's MP3 or Ogg file; the length is kept."""
    formats = {"mp3": ("MP3", "MPEG_LAYER_III"), "vorbis": ("OGG", "VORBIS")}[room.lossy]
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", SAMPLE_RATE, 1, format=formats[0], subtype=formats[1],
                             compression_level=room.quality) as encoder:
        # In blocks: libvorbis puts a whole write on the stack, and a long piece written at once overflows it.
        for start in range(0, len(audio), CODEC_BLOCK):
            encoder.write(audio[start:start + CODEC_BLOCK].astype(np.float32))
    buffer.seek(0)
    decoded = soundfile.read(buffer, dtype="float64")[0]
    out = np.zeros_like(audio)
    out[:min(len(decoded), len(audio))] = decoded[:len(audio)]
    return out


def record(dry, room, rng):
    """Mono int16 audio: `dry` played in the room, picked up by its microphones (mixed to mono), through
    the chain, at the recording level, with background noise, and through the codec if any. With room
    None: the dry sound at -3 dBFS peak, nothing added (for hand-written test pieces)."""
    dry = np.asarray(dry, dtype=np.float64)
    if room is None:
        peak = np.abs(dry).max()
        audio = dry * (10 ** (-3 / 20) / peak) if peak > 0 else dry
        return np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    peak = np.abs(dry).max()
    dry = dry * (DRY_PEAK / peak) if peak > 0 else dry     # every piano reaches the chain at one level
    wet = sum(oaconvolve(dry, response)[:len(dry)] for response in impulse_responses(room)) / len(room.mics)
    audio = chain(wet, room)
    peak = np.abs(audio).max()
    if peak > 0:
        audio *= 10 ** (room.peak_dbfs / 20) / peak
    noise = lfilter([0.05, -0.04], [1.0, -0.95], rng.standard_normal(len(audio)))     # pink-ish room tone
    level = np.sqrt(np.mean(audio ** 2)) * 10 ** (-room.snr_db / 20)
    audio = audio + noise * level / (np.sqrt(np.mean(noise ** 2)) + 1e-12)
    if room.lossy:
        audio = lossy_round_trip(np.clip(audio, -1, 1), room)
    return np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
