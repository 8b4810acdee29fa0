"""From frame and onset probabilities to notes, and the scores of the homework (through mir_eval).

    python evaluate.py runs/exp_.../model-5000.pt [--group test] [--data_path DIR]
"""
import argparse
import os
import sys
import warnings
from collections import defaultdict

import numpy as np
import torch
from mir_eval.transcription import precision_recall_f1_overlap
from mir_eval.util import midi_to_hz

from constants import HOP_SIZE, MIN_MIDI, SAMPLE_RATE


def extract_notes(onsets, frames, velocity=None, onset_threshold=0.5, frame_threshold=0.5):
    """Notes from T x 88 onset and frame probabilities (numpy arrays or tensors).

    A note starts where the onset probability rises above its threshold. It lasts while the onset or
    the frame probability stays above threshold, and ends early where a new onset of the same key
    starts. Returns (pitches, intervals, velocities): key indices 0-87, [start, end) frame pairs, and
    the mean velocity over the note's onset frames (zeros when no velocity is given).
    """
    onsets = np.asarray(onsets) > onset_threshold
    active = onsets | (np.asarray(frames) > frame_threshold)
    rising = onsets & ~np.vstack([np.zeros((1, onsets.shape[1]), bool), onsets[:-1]])
    n_frames = onsets.shape[0]
    pitches, starts = np.nonzero(rising.T)                                # ordered by key, then time
    # Ends: the first inactive frame after the start, or the next rising onset of the key.
    stops = np.zeros(len(starts), dtype=np.int64)
    for key in np.unique(pitches):
        mine = pitches == key
        key_starts = starts[mine]
        inactive = np.flatnonzero(~active[:, key])
        first_inactive = np.append(inactive, n_frames)[np.searchsorted(inactive, key_starts)]
        next_start = np.append(key_starts[1:], n_frames)
        stops[mine] = np.minimum(first_inactive, next_start)
    order = np.lexsort((pitches, starts))
    starts, stops, pitches = starts[order], stops[order], pitches[order]
    velocities = np.zeros(len(starts))
    if velocity is not None:
        velocity = np.asarray(velocity)
        onset_velocity = np.where(onsets, velocity, 0.0)
        for i, (start, stop, key) in enumerate(zip(starts, stops, pitches)):
            frames_on = onsets[start:stop, key]
            velocities[i] = onset_velocity[start:stop, key].sum() / max(frames_on.sum(), 1)
    return pitches, np.stack([starts, stops], axis=1), velocities


def to_mir_eval(pitches, intervals):
    """Frame intervals to seconds and key indices to Hz, as mir_eval wants them."""
    seconds = intervals.astype(np.float64).reshape(-1, 2) * HOP_SIZE / SAMPLE_RATE
    return seconds, midi_to_hz(pitches + MIN_MIDI)


def frame_scores(prediction, label):
    """Precision, recall and F1 of a binary roll against the label roll, counted over frames and keys."""
    true_positives = float(np.sum(prediction & label))
    precision = true_positives / max(float(prediction.sum()), 1.0)
    recall = true_positives / max(float(label.sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def evaluate_piece(frame_prob, onset_prob, label_frame, label_onset, onset_threshold=0.5, frame_threshold=0.5):
    """Every metric of one piece: T x 88 probabilities against T x 88 label rolls (numpy arrays)."""
    metrics = {}
    for name, prob, label, threshold in (("frame", frame_prob, label_frame, frame_threshold),
                                         ("onset", onset_prob, label_onset, onset_threshold)):
        precision, recall, f1 = frame_scores(prob > threshold, label > 0.5)
        metrics[f"metric/frame/{name}_precision"] = precision
        metrics[f"metric/frame/{name}_recall"] = recall
        metrics[f"metric/frame/{name}_f1"] = f1

    # Reference notes are decoded from the label rolls by the same rules as the predictions.
    ref_pitches, ref_intervals, _ = extract_notes(label_onset, label_frame)
    est_pitches, est_intervals, _ = extract_notes(onset_prob, frame_prob, onset_threshold=onset_threshold,
                                                  frame_threshold=frame_threshold)
    ref = to_mir_eval(ref_pitches, ref_intervals)
    est = to_mir_eval(est_pitches, est_intervals)
    with warnings.catch_warnings():           # mir_eval warns on empty note lists; they score 0
        warnings.simplefilter("ignore")
        for name, offset_ratio in (("note", None), ("note-with-offsets", 0.2)):
            if len(ref_pitches) and len(est_pitches):
                scores = precision_recall_f1_overlap(*ref, *est, offset_ratio=offset_ratio)
            else:
                scores = (0.0, 0.0, 0.0, 0.0)
            for key, value in zip(("precision", "recall", "f1", "overlap"), scores):
                metrics[f"metric/{name}/{key}"] = float(value)
    return metrics


def evaluate(model, dataset, device, onset_threshold=0.5, frame_threshold=0.5):
    """Run the model on every item of a dataset; returns {metric: [value per item]} including the losses."""
    results = defaultdict(list)
    model.eval()
    with torch.no_grad():
        for item in dataset:
            audio = item["audio"].to(device).unsqueeze(0)
            frame_logit, onset_logit = model(audio)
            frame_label, onset_label = item["frame"].to(device), item["onset"].to(device)
            results["metric/loss/frame_loss"].append(
                torch.nn.functional.binary_cross_entropy_with_logits(frame_logit[0], frame_label).item())
            results["metric/loss/onset_loss"].append(
                torch.nn.functional.binary_cross_entropy_with_logits(onset_logit[0], onset_label).item())
            piece = evaluate_piece(torch.sigmoid(frame_logit[0]).cpu().numpy(), torch.sigmoid(onset_logit[0]).cpu().numpy(),
                                   item["frame"].numpy(), item["onset"].numpy(), onset_threshold, frame_threshold)
            for key, value in piece.items():
                results[key].append(value)
    model.train()
    return results
