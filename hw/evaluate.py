"""From frame and onset probabilities to notes, and the scores of the homework (through mir_eval).

    python evaluate.py runs/exp_.../model-best.pt [--group test] [--data_path DIR] [--by piano room.family]
                       [--onset_threshold 0.5] [--frame_threshold 0.5] [--weak_onset_threshold T]
    python evaluate.py runs/exp_.../model-best.pt --sweep     # which thresholds suit it, on the validation pieces
"""
import argparse
import os
import sys
import warnings
from collections import defaultdict

import numpy as np
import torch
from mir_eval.transcription import average_overlap_ratio, match_notes
from mir_eval.transcription_velocity import precision_recall_f1_overlap as velocity_scores
from mir_eval.util import f_measure, midi_to_hz

from constants import (FRAME_SWEEP, FRAME_THRESHOLD, HOP_SIZE, MIN_MIDI, ONSET_SWEEP, ONSET_THRESHOLD, SAMPLE_RATE,
                       WEAK_ONSET_SWEEP)


def extract_notes(onsets, frames, velocity=None, onset_threshold=ONSET_THRESHOLD, frame_threshold=FRAME_THRESHOLD,
                  weak_onset_threshold=None):
    """Notes from T x 88 onset and frame probabilities (numpy arrays or tensors).

    A note starts where the onset probability rises above its threshold. It lasts while the onset or
    the frame probability stays above threshold, and ends early where a new onset of the same key
    starts. With weak_onset_threshold, a note also starts where the onset probability passes that lower
    threshold just as the key's frame switches on (off the frame before, on in this frame or the next):
    a quiet note's onset is often weak where its frame is clear. Returns (pitches, intervals, velocities):
    key indices 0-87, [start, end) frame pairs, and the mean velocity over the note's onset frames (zeros
    when no velocity is given).
    """
    onset_prob = np.asarray(onsets)
    frame_on = np.asarray(frames) > frame_threshold
    onsets = onset_prob > onset_threshold
    if weak_onset_threshold is not None:
        no_frame = np.zeros((1, frame_on.shape[1]), bool)
        switches_on = ~np.vstack([no_frame, frame_on[:-1]]) & (frame_on | np.vstack([frame_on[1:], no_frame]))
        onsets |= (onset_prob > weak_onset_threshold) & switches_on
    active = onsets | frame_on
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
    """Frame intervals to seconds and key indices to Hz, as mir_eval wants them. Each note is timed at its
    frame's start: scores compare frames with frames, where any common shift cancels (the MIDI files of
    transcribe.py time notes at their frame's middle, note_seconds)."""
    seconds = intervals.astype(np.float64).reshape(-1, 2) * HOP_SIZE / SAMPLE_RATE
    return seconds, midi_to_hz(pitches + MIN_MIDI)


def frame_scores(prediction, label):
    """Precision, recall, F1 and accuracy (Dixon, 2000) of a binary roll against the label roll.

    Counted over all frames and keys; accuracy is TP / (TP + FP + FN).
    """
    true_positives = float(np.sum(prediction & label))
    predicted, actual = float(prediction.sum()), float(label.sum())
    precision = true_positives / max(predicted, 1.0)
    recall = true_positives / max(actual, 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    accuracy = true_positives / max(predicted + actual - true_positives, 1.0)
    return precision, recall, f1, accuracy


def note_scores(ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=None):
    """mir_eval's note precision, recall, F1 and mean overlap ratio, matching one key at a time.

    Notes of different keys never match (mir_eval's pitch tolerance is half a semitone), so the best
    matching of a whole piece is the union of the best matchings of each key: the same result as
    mir_eval's precision_recall_f1_overlap, without comparing every note with every other one.
    """
    if len(ref_hz) == 0 or len(est_hz) == 0:
        return 0.0, 0.0, 0.0, 0.0
    matched, overlaps = 0, 0.0
    for hz in np.intersect1d(ref_hz, est_hz):
        r, e = ref_hz == hz, est_hz == hz
        matching = match_notes(ref_intervals[r], ref_hz[r], est_intervals[e], est_hz[e], offset_ratio=offset_ratio)
        matched += len(matching)
        if matching:
            overlaps += average_overlap_ratio(ref_intervals[r], est_intervals[e], matching) * len(matching)
    precision, recall = matched / len(est_hz), matched / len(ref_hz)
    return precision, recall, f_measure(precision, recall), overlaps / matched if matched else 0.0


def evaluate_piece(frame_prob, onset_prob, label_frame, label_onset, velocity=None, label_velocity=None,
                   onset_threshold=ONSET_THRESHOLD, frame_threshold=FRAME_THRESHOLD, weak_onset_threshold=None):
    """Every metric of one piece: T x 88 probabilities against T x 88 label rolls (numpy arrays).

    With a predicted velocity roll (values in [0, 1]), the note metrics with velocity are added.
    """
    metrics = {}
    for name, prob, label, threshold in (("frame", frame_prob, label_frame, frame_threshold),
                                         ("onset", onset_prob, label_onset, onset_threshold)):
        precision, recall, f1, accuracy = frame_scores(prob > threshold, label > 0.5)
        metrics[f"metric/frame/{name}_precision"] = precision
        metrics[f"metric/frame/{name}_recall"] = recall
        metrics[f"metric/frame/{name}_f1"] = f1
        if name == "frame":
            metrics["metric/frame/accuracy"] = accuracy

    # Reference notes are decoded from the label rolls by the same rules as the predictions.
    ref_pitches, ref_intervals, ref_velocities = extract_notes(label_onset, label_frame, label_velocity)
    est_pitches, est_intervals, est_velocities = extract_notes(onset_prob, frame_prob, velocity, onset_threshold,
                                                               frame_threshold, weak_onset_threshold)
    ref = to_mir_eval(ref_pitches, ref_intervals)
    est = to_mir_eval(est_pitches, est_intervals)
    both = len(ref_pitches) > 0 and len(est_pitches) > 0
    with warnings.catch_warnings():           # mir_eval warns on empty note lists; they score 0
        warnings.simplefilter("ignore")
        for name, offset_ratio in (("note", None), ("note-with-offsets", 0.2)):
            scores = note_scores(*ref, *est, offset_ratio=offset_ratio)
            metrics.update(named(name, scores))
            if velocity is not None:
                name = "note-with-velocity" if offset_ratio is None else "note-with-offsets-and-velocity"
                scores = (velocity_scores(ref[0], ref[1], ref_velocities, est[0], est[1], est_velocities,
                                          offset_ratio=offset_ratio) if both else (0.0,) * 4)
                metrics.update(named(name, scores))
    return metrics


def named(name, scores):
    return {f"metric/{name}/{key}": float(value) for key, value in zip(("precision", "recall", "f1", "overlap"), scores)}


def losses(outputs, labels):
    """The loss terms of a model's outputs against label rolls (batch x frames x 88).

    Every model is trained on frame and onset cross-entropy. A model that returns four outputs
    (frame_logit, onset_logit, offset_logit, velocity), like the full Onsets and Frames, adds offset
    cross-entropy and the squared velocity error where notes start.
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    terms = {"frame_loss": bce(outputs[0], labels["frame"]), "onset_loss": bce(outputs[1], labels["onset"])}
    if len(outputs) == 4:
        onset = labels["onset"]
        terms["offset_loss"] = bce(outputs[2], labels["offset"])
        terms["velocity_loss"] = (onset * (outputs[3] - labels["velocity"]) ** 2).sum() / onset.sum().clamp(min=1)
    return terms


def evaluate(model, dataset, device, onset_threshold=ONSET_THRESHOLD, frame_threshold=FRAME_THRESHOLD,
             weak_onset_threshold=None, midi_folder=None):
    """Run the model on every item of a dataset; returns {metric: [value per item]} including the losses.

    With midi_folder, each item's transcription is also written there as <audio file name>.mid.
    """
    results = defaultdict(list)
    model.eval()
    with torch.no_grad():
        for item in dataset:
            outputs = model(item["audio"].to(device).unsqueeze(0))
            labels = {key: item[key].to(device).unsqueeze(0) for key in ("frame", "onset", "offset", "velocity")}
            for name, loss in losses(outputs, labels).items():
                results[f"metric/loss/{name}"].append(loss.item())
            frame_prob = torch.sigmoid(outputs[0][0]).cpu().numpy()
            onset_prob = torch.sigmoid(outputs[1][0]).cpu().numpy()
            velocity = outputs[3][0].clamp(0, 1).cpu().numpy() if len(outputs) == 4 else None
            piece = evaluate_piece(frame_prob, onset_prob, item["frame"].numpy(), item["onset"].numpy(),
                                   velocity, item["velocity"].numpy(), onset_threshold, frame_threshold,
                                   weak_onset_threshold)
            for key, value in piece.items():
                results[key].append(value)
            if midi_folder:
                from transcribe import write_midi
                pitches, intervals, velocities = extract_notes(onset_prob, frame_prob, velocity, onset_threshold,
                                                               frame_threshold, weak_onset_threshold)
                name = os.path.splitext(os.path.basename(item["path"]))[0]
                write_midi(os.path.join(midi_folder, name + ".mid"), pitches, intervals,
                           velocities if velocity is not None else None)
    model.train()
    return results


def probabilities(model, dataset, device):
    """(frame_prob, onset_prob, label_frame, label_onset) of every item, as T x 88 numpy arrays."""
    pieces, training = [], model.training
    model.eval()
    with torch.no_grad():
        for item in dataset:
            frame_logit, onset_logit = model(item["audio"].to(device).unsqueeze(0))[:2]
            pieces.append((torch.sigmoid(frame_logit[0]).cpu().numpy(), torch.sigmoid(onset_logit[0]).cpu().numpy(),
                           item["frame"].numpy(), item["onset"].numpy()))
    model.train(training)
    return pieces


def sweep_thresholds(pieces, onset_thresholds=ONSET_SWEEP, frame_thresholds=FRAME_SWEEP,
                     weak_onset_thresholds=WEAK_ONSET_SWEEP):
    """Mean note F1 of the pieces at each onset threshold (frames at 0.5); at the best of those, at each weak
    onset threshold below it (None: no weak onsets, kept unless one scores higher); then, at the best two,
    mean note-with-offsets F1 at each frame threshold: the frame threshold decides where notes end.
    pieces: (frame_prob, onset_prob, label_frame, label_onset) each.
    Returns the three {threshold: F1} and the best of each, as {"onset_threshold": .., "weak_onset_threshold":
    .., "frame_threshold": ..}."""
    references = [to_mir_eval(*extract_notes(onset, frame)[:2]) for _, _, frame, onset in pieces]

    def mean_f1(onset_threshold, weak_onset_threshold, frame_threshold, offset_ratio):
        scores = []
        for (frame, onset, _, _), reference in zip(pieces, references):
            estimate = to_mir_eval(*extract_notes(onset, frame, None, onset_threshold, frame_threshold,
                                                  weak_onset_threshold)[:2])
            scores.append(note_scores(*reference, *estimate, offset_ratio=offset_ratio)[2])
        return float(np.mean(scores))
    onset_f1 = {threshold: mean_f1(threshold, None, FRAME_THRESHOLD, None) for threshold in onset_thresholds}
    best_onset = max(onset_f1, key=onset_f1.get)
    weak_f1 = {threshold: mean_f1(best_onset, threshold, FRAME_THRESHOLD, None) for threshold in weak_onset_thresholds
               if threshold is None or threshold < best_onset}
    best_weak = max(weak_f1, key=weak_f1.get)                   # the first of equals: None where nothing gains
    frame_f1 = {threshold: mean_f1(best_onset, best_weak, threshold, 0.2) for threshold in frame_thresholds}
    best = {"onset_threshold": best_onset, "weak_onset_threshold": best_weak,
            "frame_threshold": max(frame_f1, key=frame_f1.get)}
    return onset_f1, weak_f1, frame_f1, best


def sweep_lines(onset_f1, weak_f1, frame_f1, best):
    def row(name, values, digits):
        return f"{name:>22}" + "".join(f"{value:6.{digits}f}" if value is not None else "  none" for value in values)
    weak = best["weak_onset_threshold"]
    return [row("onset threshold", onset_f1, 2), row("note F1", onset_f1.values(), 3), "",
            f"at onset threshold {best['onset_threshold']}:", row("weak onset threshold", weak_f1, 2),
            row("note F1", weak_f1.values(), 3), "",
            f"at weak onset threshold {weak}:" if weak is not None else "without weak onsets:",
            row("frame threshold", frame_f1, 2), row("note-with-offsets F1", frame_f1.values(), 3), "",
            f"best: --onset_threshold {best['onset_threshold']}"
            + (f" --weak_onset_threshold {weak}" if weak is not None else "")
            + f" --frame_threshold {best['frame_threshold']}"]


def results_lines(metrics):
    """The 2020 homework's results.txt lines: mean and standard deviation over pieces."""
    lines = []
    for key, values in metrics.items():
        _, category, name = key.split("/")
        lines.append(f"{category:>32} {name:26}: {np.mean(values):.3f} +- {np.std(values):.3f}")
    return lines


def check_weak_onset_threshold(parser, weak_onset_threshold, onset_threshold):
    """A weak onset threshold at or over the onset threshold would add no notes: a command-line error."""
    if weak_onset_threshold is not None and weak_onset_threshold >= onset_threshold:
        parser.error(f"--weak_onset_threshold {weak_onset_threshold} would add no notes: it must lie below the "
                     f"onset threshold, {onset_threshold}")


def probability(text):
    """A threshold flag's value: a probability strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie between 0 and 1 (it is a probability), not {value}")
    return value


GROUP_BY = ("piano", "room.family")      # what made each piece of the kit's own data (MAESTRO's records lack them)


def report_lines(metrics, dataset, fields=GROUP_BY):
    """results.txt: the 2020 lines, then mean note and frame F1 per value of each data.json field."""
    groups = group_lines(metrics, dataset, fields)
    return results_lines(metrics) + ([""] + groups if groups else [])


def record_field(record, field):
    """A data.json field of one piece; a dotted name reaches inside (room.family). None when absent."""
    value = record
    for key in field.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def group_lines(metrics, dataset, fields=GROUP_BY,
                columns=(("note F1", "metric/note/f1"), ("frame F1", "metric/frame/frame_f1"))):
    """Mean scores per value of each field; a field some piece lacks gets no lines."""
    from dataset import read_records
    records = {os.path.normpath(os.path.join(dataset.path, record["audio_filename"])): record
               for record in read_records(dataset.path)}
    lines = []
    for field in fields:
        labels = [record_field(records.get(os.path.normpath(piece["path"]), {}), field) for piece in dataset.pieces]
        if None in labels:
            continue
        labels = [str(label) for label in labels]
        lines.append(f"{'by ' + field:>32} {'pieces':>8}" + "".join(f"{name:>10}" for name, _ in columns))
        for label in sorted(set(labels)):
            chosen = [i for i, name in enumerate(labels) if name == label]
            lines.append(f"{label:>32} {len(chosen):8d}" +
                         "".join(f"{np.mean([metrics[key][i] for i in chosen]):10.3f}" for _, key in columns))
    return lines


def load_model(checkpoint_path, device="cpu"):
    """The model a train.py checkpoint holds, built from its recorded type and widths."""
    from model import MODELS
    if not os.path.exists(checkpoint_path):
        sys.exit(f"no checkpoint at {checkpoint_path}")
    try:
        checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=True)
        model_type, cnn_unit, fc_unit = checkpoint["model_type"], checkpoint["cnn_unit"], checkpoint["fc_unit"]
    except Exception as error:
        sys.exit(f"{checkpoint_path} is not a checkpoint written by train.py ({type(error).__name__}: {error})")
    if model_type not in MODELS:
        sys.exit(f"{checkpoint_path} holds a {model_type!r} model, which model.py does not define")
    try:
        model = MODELS[model_type](cnn_unit, fc_unit)
    except NotImplementedError as stub:
        sys.exit(f"{checkpoint_path} holds a {model_type!r} model, but model.py says: {stub}")
    try:
        model.load_state_dict(checkpoint["model_state_dict"])
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        sys.exit(f"{checkpoint_path} does not fit {type(model).__name__} with cnn_unit={cnn_unit}, fc_unit={fc_unit} "
                 f"in model.py ({first}); was model.py changed after training?")
    return model.to(device).eval(), checkpoint


def main():
    from constants import DEFAULT_DATA_PATH
    from dataset import DataError, MAESTRO_small, read_records
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--group", default=None, choices=["train", "validation", "test", "debug"],
                        help="default: test, or validation with --sweep")
    parser.add_argument("--data_path", default=DEFAULT_DATA_PATH)
    parser.add_argument("--sequence_length", type=int, default=None, help="evaluate the first N samples only")
    parser.add_argument("--out", default=None, help="results file (default: results-<group>.txt by the checkpoint)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--by", nargs="+", default=list(GROUP_BY), metavar="FIELD",
                        help="data.json fields to average by (default: piano room.family); e.g. canonical_composer")
    parser.add_argument("--onset_threshold", type=probability, default=ONSET_THRESHOLD)
    parser.add_argument("--frame_threshold", type=probability, default=FRAME_THRESHOLD)
    parser.add_argument("--weak_onset_threshold", type=probability, default=None,
                        help="a lower onset threshold that also starts a note as its key's frame switches on")
    parser.add_argument("--sweep", action="store_true",
                        help="print note F1 over a range of thresholds instead (on the validation pieces by default)")
    args = parser.parse_args()
    check_weak_onset_threshold(parser, args.weak_onset_threshold, args.onset_threshold)
    # Thresholds are chosen on pieces the test scores do not come from.
    args.group = args.group or ("validation" if args.sweep else "test")
    model, _ = load_model(args.checkpoint, args.device)
    try:
        dataset = MAESTRO_small(args.data_path, groups=[args.group], sequence_length=args.sequence_length,
                                random_sample=False)
        records = read_records(args.data_path)
    except DataError as error:
        sys.exit(f"data error: {error}")
    unknown = [field for field in args.by if all(record_field(record, field) is None for record in records)]
    if unknown:
        sys.exit(f"--by: no piece in {args.data_path}/data.json has {', '.join(unknown)}; its fields are "
                 f"{', '.join(sorted({key for record in records for key in record}))}")
    if args.sweep:
        print(f"{args.group} pieces of {args.data_path}")
        print("\n".join(sweep_lines(*sweep_thresholds(probabilities(model, dataset, args.device)))))
        return
    metrics = evaluate(model, dataset, args.device, args.onset_threshold, args.frame_threshold,
                       args.weak_onset_threshold)
    lines = report_lines(metrics, dataset, args.by)
    thresholds = (args.onset_threshold, args.frame_threshold)
    homework = thresholds == (ONSET_THRESHOLD, FRAME_THRESHOLD) and args.weak_onset_threshold is None
    name = f"results-{args.group}" + ("" if homework else "-onset{}-frame{}".format(*thresholds)
                                      + (f"-weak{args.weak_onset_threshold}"
                                         if args.weak_onset_threshold is not None else ""))
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), name + ".txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
