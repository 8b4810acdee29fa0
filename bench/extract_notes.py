"""Note extraction and metrics: hw/evaluate.py against a straightforward per-note Python loop.

    python bench/extract_notes.py

The loop below applies the same rules one frame at a time, like the 2020 homework's code; it is the
baseline the vectorised version is measured against (target: at least 10 times faster), and the
reference the tests compare it with.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hw"))


def extract_notes_loop(onsets, frames, onset_threshold=0.5, frame_threshold=0.5, weak_onset_threshold=None):
    onset_prob = np.asarray(onsets)
    onsets = onset_prob > onset_threshold
    frames = np.asarray(frames) > frame_threshold
    notes = []
    n_frames, n_keys = onsets.shape
    if weak_onset_threshold is not None:
        for t in range(n_frames):
            for key in range(n_keys):
                off_before = t == 0 or not frames[t - 1, key]
                on_now_or_next = frames[t, key] or (t + 1 < n_frames and frames[t + 1, key])
                if onset_prob[t, key] > weak_onset_threshold and off_before and on_now_or_next:
                    onsets[t, key] = True
    for start in range(n_frames):
        for key in range(n_keys):
            if not onsets[start, key] or (start > 0 and onsets[start - 1, key]):
                continue
            end = start + 1
            while end < n_frames and (onsets[end, key] or frames[end, key]):
                if onsets[end, key] and not onsets[end - 1, key]:
                    break
                end += 1
            notes.append((key, start, end))
    notes.sort(key=lambda n: (n[1], n[0]))
    pitches = np.array([n[0] for n in notes], dtype=np.int64)
    intervals = np.array([(n[1], n[2]) for n in notes], dtype=np.int64).reshape(-1, 2)
    return pitches, intervals


def random_rolls(rng, n_frames, density=0.02):
    """Plausible probability rolls: notes of random length, onset probability high at their starts."""
    frames = rng.random((n_frames, 88)) * 0.4
    onsets = rng.random((n_frames, 88)) * 0.4
    for _ in range(int(n_frames * 88 * density / 10)):
        key, start = rng.integers(88), rng.integers(n_frames)
        length = rng.integers(2, 40)
        frames[start:start + length, key] = rng.uniform(0.5, 1.0)
        onsets[start, key] = rng.uniform(0.5, 1.0)
    return onsets, frames


def baseline_piece(frames, onsets, label_frames, label_onsets):
    """The 2020 way: per-note loops, then mir_eval comparing every note with every other one."""
    from mir_eval.transcription import precision_recall_f1_overlap
    from evaluate import frame_scores, to_mir_eval
    scores = [frame_scores(frames > 0.5, label_frames > 0.5), frame_scores(onsets > 0.5, label_onsets > 0.5)]
    ref = to_mir_eval(*extract_notes_loop(label_onsets, label_frames))
    est = to_mir_eval(*extract_notes_loop(onsets, frames))
    for offset_ratio in (None, 0.2):
        scores.append(precision_recall_f1_overlap(*ref, *est, offset_ratio=offset_ratio))
    return scores


def main():
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from evaluate import evaluate_piece, extract_notes
    rng = np.random.default_rng(0)
    label_onsets, label_frames = random_rolls(rng, 31250 // 5 * 10)     # 200 s of frames
    label_onsets, label_frames = (label_onsets > 0.5).astype(np.float32), (label_frames > 0.5).astype(np.float32)
    # A prediction that is mostly right: the labels, blurred and with extra and missing notes.
    onsets, frames = random_rolls(rng, len(label_onsets), density=0.005)
    onsets, frames = np.maximum(onsets, label_onsets * rng.uniform(0.3, 1.0, label_onsets.shape)), \
        np.maximum(frames, label_frames * rng.uniform(0.3, 1.0, label_frames.shape))

    def timed(function, repeats):
        start = time.perf_counter()
        for _ in range(repeats):
            function()
        return (time.perf_counter() - start) / repeats

    loop = timed(lambda: (extract_notes_loop(onsets, frames), extract_notes_loop(label_onsets, label_frames)), 1)
    vectorised = timed(lambda: (extract_notes(onsets, frames), extract_notes(label_onsets, label_frames)), 5)
    baseline = timed(lambda: baseline_piece(frames, onsets, label_frames, label_onsets), 1)
    ours = timed(lambda: evaluate_piece(frames, onsets, label_frames, label_onsets), 3)
    print(f"200 s of rolls, {len(extract_notes(label_onsets, label_frames)[0])} reference notes, "
          f"{len(extract_notes(onsets, frames)[0])} predicted")
    print(f"extract_notes, per-note loop (baseline): {loop * 1000:8.1f} ms")
    print(f"extract_notes, vectorised:               {vectorised * 1000:8.1f} ms ({loop / vectorised:.0f}x faster)")
    print(f"extraction + metrics, loops + mir_eval's all-pairs matching (baseline): {baseline * 1000:8.1f} ms")
    print(f"extraction + metrics, evaluate_piece:                                 {ours * 1000:8.1f} ms "
          f"({baseline / ours:.0f}x faster; target >= 10x)")


if __name__ == "__main__":
    main()
