// Runs the ONNX model on 16 kHz mono audio in chunks, as predict() in transcribe.py does, and reads the
// notes off the probabilities. A Web Worker, so the page stays responsive while it works.
importScripts("ort.wasm.min.js", "notes.js");

const SAMPLE_RATE = 16000, HOP_SIZE = 512, KEYS = 88;
const CHUNK = Math.floor(30 * SAMPLE_RATE / HOP_SIZE);      // frames per forward pass (30 s)
const CONTEXT = Math.floor(2 * SAMPLE_RATE / HOP_SIZE);     // extra frames each side, so LSTMs see across cuts

ort.env.wasm.wasmPaths = "./";
ort.env.wasm.numThreads = 1;      // threads need a cross-origin isolated page, which plain static hosting is not
let session = null;

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

async function transcribe(audio, onsetThreshold, frameThreshold, weakOnsetThreshold) {
  session = session || await ort.InferenceSession.create("model.onnx", {executionProviders: ["wasm"]});
  const nFrames = Math.floor(audio.length / HOP_SIZE);
  const padded = new Float32Array((nFrames + CHUNK + 2 * CONTEXT) * HOP_SIZE);
  padded.set(audio.subarray(0, nFrames * HOP_SIZE), CONTEXT * HOP_SIZE);
  const frames = new Float32Array(nFrames * KEYS), onsets = new Float32Array(nFrames * KEYS);
  const hasVelocity = session.outputNames.includes("velocity");
  const velocity = hasVelocity ? new Float32Array(nFrames * KEYS) : null;
  for (let start = 0; start < nFrames; start += CHUNK) {
    const piece = padded.slice(start * HOP_SIZE, (start + CHUNK + 2 * CONTEXT) * HOP_SIZE);
    const outputs = await session.run({audio: new ort.Tensor("float32", piece, [1, piece.length])});
    const kept = Math.min(CHUNK, nFrames - start);
    for (let i = 0; i < kept * KEYS; i++) {
      const from = CONTEXT * KEYS + i, to = start * KEYS + i;
      frames[to] = sigmoid(outputs.frame_logit.data[from]);
      onsets[to] = sigmoid(outputs.onset_logit.data[from]);
      if (velocity) velocity[to] = Math.min(Math.max(outputs.velocity.data[from], 0), 1);
    }
    postMessage({progress: Math.min(start + CHUNK, nFrames) / nFrames});
  }
  const notes = extractNotes(onsets, frames, velocity, nFrames, onsetThreshold, frameThreshold,
                            weakOnsetThreshold);
  return {frames, nFrames, notes, hasVelocity};
}

onmessage = async (event) => {
  try {
    const {audio, onsetThreshold, frameThreshold, weakOnsetThreshold} = event.data;
    const result = await transcribe(audio, onsetThreshold, frameThreshold, weakOnsetThreshold);
    postMessage({result}, [result.frames.buffer]);
  } catch (error) {
    postMessage({error: String(error && error.message || error)});
  }
};
