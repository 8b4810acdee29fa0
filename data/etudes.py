"""Procedural piano études: the writing real scores in the corpus rarely have.

Each étude is a chain of sections over a diatonic chord progression. Every section uses one texture, and
the textures are chosen to cover what a transcriber must handle and chorales lack: all 88 keys (sweeping
arpeggios, the extreme registers), chords of up to 10 notes in both hands, fast scales in one hand or
both, octave passages, trills, repeated notes and chords, and plain melody-and-accompaniment. Dynamics, rubato, pedal and timing are added later by `performance.py`.
"""
import numpy as np

from .score import Score

KEY_NAMES = ["C", "D-flat", "D", "E-flat", "E", "F", "F-sharp", "G", "A-flat", "A", "B-flat", "B"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 11]          # harmonic minor, for a real dominant
PROGRESSION_STEPS = {0: [3, 4, 5, 1], 1: [4, 6], 2: [5, 3], 3: [4, 0, 1], 4: [0, 5], 5: [1, 3, 4], 6: [0]}


def chord_classes(scale, degree, seventh=False):
    """Pitch classes of the triad (or seventh chord) on a scale degree."""
    steps = [0, 2, 4, 6] if seventh else [0, 2, 4]
    return {scale[(degree + s) % 7] for s in steps}


def pitches_in(classes, low, high):
    return [p for p in range(low, high + 1) if p % 12 in classes]


def progression(rng, n):
    degrees = [0]
    while len(degrees) < n:
        degrees.append(int(rng.choice(PROGRESSION_STEPS[degrees[-1]])))
    degrees[-2:] = [4, 0] if n >= 2 else degrees[-2:]   # end on a cadence
    return degrees


# Textures: each returns rows (pitch, start, duration) for one bar holding one chord.

def alberti(rng, start, bar, chord, scale_pitches):
    rows = []
    low = pitches_in(chord, 36, 60)[:3] or [48]
    pattern = [low[0], low[-1], low[len(low) // 2], low[-1]]
    for i in range(int(bar / 0.5)):
        rows.append((pattern[i % 4], start + i * 0.5, 0.5))
    melody = [p for p in scale_pitches if 64 <= p <= 88]
    t, idx = start, int(rng.integers(len(melody)))
    while t < start + bar - 1e-9:
        duration = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0, 0.25]))
        duration = min(duration, start + bar - t)
        idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(melody) - 1))
        rows.append((melody[idx], t, duration))
        t += duration
    return rows


def block_chords(rng, start, bar, chord, scale_pitches):
    rows = []
    left = pitches_in(chord, 28, 55)
    right = pitches_in(chord, 55, 96)
    rhythms = [[bar], [1.0] * int(bar), [1.5, 0.5] * int(bar // 2)]
    rhythm = rhythms[int(rng.integers(3))] or [bar]
    t = start
    for duration in rhythm:
        n_left, n_right = int(rng.integers(1, 4)), int(rng.integers(3, 7))
        lo = int(rng.integers(0, max(1, len(left) - n_left)))
        hi = int(rng.integers(0, max(1, len(right) - n_right)))
        for p in left[lo:lo + n_left] + right[hi:hi + n_right]:
            rows.append((p, t, duration))
        t += duration
    return rows


def sweeping_arpeggio(rng, start, bar, chord, scale_pitches):
    low, high = int(rng.integers(21, 41)), int(rng.integers(84, 109))
    tones = pitches_in(chord, low, high)
    path = tones + tones[-2:0:-1]
    step = 0.25 if rng.random() < 0.7 else 1 / 6
    n = int(round(bar / step))
    offset = int(rng.integers(len(path)))
    # Long durations let the sweep ring under the pedal, as written for piano.
    return [(path[(offset + i) % len(path)], start + i * step, step * 2) for i in range(n)]


def scale_run(rng, start, bar, chord, scale_pitches):
    low = int(rng.integers(40, 70))
    run = [p for p in scale_pitches if p >= low][: int(bar / 0.25) + 1]
    if rng.random() < 0.5:
        run = run[::-1]
    step = 0.25
    rows = [(p, start + i * step, step) for i, p in enumerate(run[: int(bar / step)])]
    if rng.random() < 0.4:                      # in octaves or in thirds below
        interval = 12 if rng.random() < 0.5 else 4
        rows += [(p - interval, t, d) for p, t, d in rows]
    rows += [(p, start, bar) for p in pitches_in(chord, 36, 52)[:2]]
    return rows


def repeated_notes(rng, start, bar, chord, scale_pitches):
    rows = []
    if rng.random() < 0.5:                      # repeated single note, then repeated chord
        pitch = int(rng.choice(pitches_in(chord, 60, 90)))
        rows += [(pitch, start + i * 0.25, 0.2) for i in range(int(bar / 0.25))]
    else:
        top = pitches_in(chord, 60, 84)
        j = int(rng.integers(0, max(1, len(top) - 3)))
        for i in range(int(bar / 0.5)):
            rows += [(p, start + i * 0.5, 0.4) for p in top[j:j + 3]]
    bass = int(rng.choice(pitches_in(chord, 33, 50)))
    rows += [(bass, start, bar), (bass - 12, start, bar)]
    return rows


def octave_bass(rng, start, bar, chord, scale_pitches):
    bass = int(rng.choice(pitches_in(chord, 21, 40)))
    rows = [(bass, start + i, 1.0) for i in range(int(bar))]
    rows += [(bass + 12, start + i, 1.0) for i in range(int(bar))]
    right = pitches_in(chord, 60, 92)
    for i in range(int(bar)):
        j = int(rng.integers(0, max(1, len(right) - 3)))
        rows += [(p, start + i + 0.5, 0.5) for p in right[j:j + 3]]
    return rows


def chorale(rng, start, bar, chord, scale_pitches):
    rows = []
    for i in range(int(bar)):
        voices = [pitches_in(chord, lo, hi) for lo, hi in [(40, 55), (52, 64), (60, 72), (67, 81)]]
        for choices in voices:
            if choices:
                rows.append((int(rng.choice(choices)), start + i, 1.0))
    return rows


def extremes(rng, start, bar, chord, scale_pitches):
    rows = []
    for i in range(int(bar * 2)):
        region = (96, 108) if i % 2 else (21, 34)
        choices = pitches_in(chord, *region) or [region[0]]
        rows.append((int(rng.choice(choices)), start + i * 0.5, 0.4))
    rows += [(p, start, bar) for p in pitches_in(chord, 55, 72)[:3]]
    return rows


def trill(rng, start, bar, chord, scale_pitches):
    """A trill on a melody note (two neighbouring scale notes, fast) over a chord held in the left hand."""
    upper = [p for p in scale_pitches if 62 <= p <= 92]
    index = int(rng.integers(len(upper) - 1))
    step = float(rng.choice([1 / 8, 1 / 6]))
    rows = [(upper[index + i % 2], start + i * step, step) for i in range(int(round(bar / step)))]
    return rows + [(p, start, bar) for p in pitches_in(chord, 36, 57)[:3]]


def big_chords(rng, start, bar, chord, scale_pitches):
    """Chords of 6 to 10 notes across both hands, octaves doubled, struck on the beats."""
    left, right = pitches_in(chord, 24, 55), pitches_in(chord, 52, 100)
    rows = []
    for beat in range(int(bar)):
        n_left, n_right = int(rng.integers(3, 6)), int(rng.integers(3, 6))
        lo = int(rng.integers(0, max(1, len(left) - n_left)))
        hi = int(rng.integers(0, max(1, len(right) - n_right)))
        rows += [(p, start + beat, 1.0) for p in left[lo:lo + n_left] + right[hi:hi + n_right]]
    return rows


def two_hand_scales(rng, start, bar, chord, scale_pitches):
    """Fast scales in both hands at once, in parallel or contrary motion."""
    step = float(rng.choice([0.25, 1 / 6]))
    n = int(round(bar / step))
    right_start = int(rng.integers(len(scale_pitches) // 2, len(scale_pitches) - n // 2))
    left_start = int(rng.integers(n, len(scale_pitches) // 2))
    contrary = rng.random() < 0.5
    rows = []
    for i in range(n):
        right = scale_pitches[min(right_start + (i if not contrary else -i), len(scale_pitches) - 1)]
        left = scale_pitches[max(left_start - i, 0)]
        rows += [(right, start + i * step, step), (left, start + i * step, step)]
    return rows


def octave_passage(rng, start, bar, chord, scale_pitches):
    """The right hand in octaves (with an inner chord note) over a left-hand octave bass."""
    tops = [p for p in scale_pitches if 67 <= p <= 100]
    index = int(rng.integers(len(tops)))
    rows = []
    for i in range(int(bar * 2)):
        index = int(np.clip(index + rng.choice([-2, -1, 1, 2]), 0, len(tops) - 1))
        top, t = tops[index], start + i * 0.5
        inner = [p for p in pitches_in(chord, top - 11, top - 1)][-1:]
        rows += [(top, t, 0.5), (top - 12, t, 0.5)] + [(p, t, 0.5) for p in inner]
    bass = int(rng.choice(pitches_in(chord, 24, 43)))
    return rows + [(bass, start, bar), (bass + 12, start, bar)]


TEXTURES = [alberti, block_chords, sweeping_arpeggio, scale_run, repeated_notes, octave_bass, chorale, extremes,
            trill, big_chords, two_hand_scales, octave_passage]


def etude(rng, number, max_bars=None):
    """A procedural étude: a Score whose title is unique for its number."""
    tonic = int(rng.integers(12))
    minor = bool(rng.random() < 0.4)
    scale = [(tonic + step) % 12 for step in (MINOR if minor else MAJOR)]
    scale_pitches = pitches_in(set(scale), 21, 108)
    bar_length = float(rng.choice([4.0, 3.0, 2.0]))
    tempo = float(rng.uniform(66, 150))
    rows, t = [], 0.0
    n_sections = int(rng.integers(4, 9))
    for section in range(n_sections):
        texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
        bars = int(rng.choice([2, 4, 4, 8]))
        for degree in progression(rng, bars):
            chord = chord_classes(scale, degree, seventh=bool(degree == 4 and rng.random() < 0.5))
            rows += texture(rng, t, bar_length, chord, scale_pitches)
            t += bar_length
            if max_bars and t >= max_bars * bar_length:
                break
        if max_bars and t >= max_bars * bar_length:
            break
    final = chord_classes(scale, 0)
    rows += [(p, t, bar_length) for p in pitches_in(final, 33, 48)[:2] + pitches_in(final, 60, 76)[:4]]
    title = f"Etude No. {number} in {KEY_NAMES[tonic]} {'minor' if minor else 'major'}"
    return Score(title, "Kit Etudes (procedural)", "etude", rows, bar_length, tempo, fermatas=[t])
