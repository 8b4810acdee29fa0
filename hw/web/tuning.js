// How many cents a recording lies above A = 440 Hz: a port of estimate_tuning in tuning.py, with the same
// rules. Each spectral peak's distance to its nearest key, weighted by its magnitude; the most common
// distance, refined by the mean of those within 15 cents of it; 0 when the recording has no clear peaks.
const TUNING_FFT = 4096, TUNING_SECONDS = 90, TUNING_RANGE = [80, 2000];

// Magnitudes of bins 0 .. n/2 of a real frame whose length n is a power of two (radix-2, in place).
function spectrumMagnitudes(frame) {
  const n = frame.length, re = Float64Array.from(frame), im = new Float64Array(n);
  for (let i = 1, j = 0; i < n; i++) {                      // bit-reversed order
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) [re[i], re[j]] = [re[j], re[i]];
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1, step = -2 * Math.PI / size;
    for (let k = 0; k < half; k++) {
      const wr = Math.cos(step * k), wi = Math.sin(step * k);
      for (let i = k; i < n; i += size) {
        const tr = re[i + half] * wr - im[i + half] * wi, ti = re[i + half] * wi + im[i + half] * wr;
        re[i + half] = re[i] - tr; im[i + half] = im[i] - ti;
        re[i] += tr; im[i] += ti;
      }
    }
  }
  const magnitude = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) magnitude[k] = Math.hypot(re[k], im[k]);
  return magnitude;
}

function estimateTuning(audio, rate) {
  const wrap = (cents) => ((cents + 50) % 100 + 100) % 100 - 50;       // into [-50, 50)
  const samples = audio.subarray(0, rate * TUNING_SECONDS);
  const window = Float64Array.from({length: TUNING_FFT},
                                  (_, i) => 0.5 - 0.5 * Math.cos(2 * Math.PI * i / (TUNING_FFT - 1)));
  const distances = [], weights = [];
  for (let start = 0; start + TUNING_FFT <= samples.length; start += TUNING_FFT / 2) {
    const magnitude = spectrumMagnitudes(Float64Array.from(window, (w, i) => w * samples[start + i]));
    const level = magnitude.map((m) => Math.log(m + 1e-9));
    const sorted = Float64Array.from(level).sort(), middle = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    for (let k = 1; k < level.length - 1; k++) {
      const [below, here, above] = [level[k - 1], level[k], level[k + 1]];
      if (!(here > below && here >= above && here > median + 4)) continue;     // a peak, 35 dB above the median
      const frequency = (k + 0.5 * (below - above) / (below - 2 * here + above)) * rate / TUNING_FFT;
      if (frequency <= TUNING_RANGE[0] || frequency >= TUNING_RANGE[1]) continue;
      distances.push(wrap(1200 * Math.log2(frequency / 440)));
      weights.push(magnitude[k]);
    }
  }
  if (distances.length < 20) return 0;
  const histogram = new Float64Array(100);
  distances.forEach((d, i) => { histogram[Math.min(Math.floor(d + 50), 99)] += weights[i]; });
  let best = 0, bestSum = -1;
  for (let bin = 0; bin < 100; bin++) {
    let sum = 0;
    for (let offset = -2; offset <= 2; offset++) sum += histogram[(bin + offset + 100) % 100];
    if (sum > bestSum) [best, bestSum] = [bin, sum];
  }
  const mode = best - 50 + 0.5;
  let total = 0, weight = 0;
  distances.forEach((d, i) => {
    const around = wrap(d - mode);
    if (Math.abs(around) < 15) { total += weights[i] * around; weight += weights[i]; }
  });
  return wrap(mode + total / weight);
}
if (typeof module !== "undefined") module.exports = {estimateTuning};
