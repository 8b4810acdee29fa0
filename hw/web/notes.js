// Notes from onset and frame probabilities: a port of extract_notes in evaluate.py, with the same rules.
// Rolls are Float32Arrays of nFrames x 88, frame-major (index t * 88 + key); velocity may be null.
// A note starts where the onset probability rises above its threshold (or above weakOnsetThreshold just as
// the key's frame switches on), lasts while the onset or the frame probability stays above threshold, and
// ends early where a new onset of the same key starts. Returns notes {key, start, end, velocity} (key 0-87,
// [start, end) in frames, velocity the mean over the note's onset frames, 0 without a velocity roll), ordered
// by start, then key.
function extractNotes(onsets, frames, velocity, nFrames, onsetThreshold = 0.5, frameThreshold = 0.5,
                      weakOnsetThreshold = null) {
  const KEYS = 88;
  const notes = [];
  for (let key = 0; key < KEYS; key++) {
    const frameOn = (t) => t >= 0 && t < nFrames && frames[t * KEYS + key] > frameThreshold;
    const switchesOn = (t) => !frameOn(t - 1) && (frameOn(t) || frameOn(t + 1));
    const onsetAt = (t) => onsets[t * KEYS + key] > onsetThreshold ||
      (weakOnsetThreshold !== null && onsets[t * KEYS + key] > weakOnsetThreshold && switchesOn(t));
    const activeAt = (t) => onsetAt(t) || frameOn(t);
    const starts = [];
    for (let t = 0; t < nFrames; t++) {
      if (onsetAt(t) && (t === 0 || !onsetAt(t - 1))) starts.push(t);
    }
    starts.forEach((start, i) => {
      const nextStart = i + 1 < starts.length ? starts[i + 1] : nFrames;
      let end = start;
      while (end < nextStart && activeAt(end)) end++;
      let sum = 0, count = 0;
      for (let t = start; t < end; t++) {
        if (onsetAt(t)) {
          sum += velocity ? velocity[t * KEYS + key] : 0;
          count++;
        }
      }
      notes.push({key, start, end, velocity: sum / Math.max(count, 1)});
    });
  }
  notes.sort((a, b) => a.start - b.start || a.key - b.key);
  return notes;
}

if (typeof module !== "undefined") module.exports = {extractNotes};
