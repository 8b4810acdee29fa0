// The page: decode a recording, send it to the worker, then draw, play and offer the notes it found.
// When done, window.transcription = {done: true, notes: [{pitch, start, end, velocity}], thresholds, tuning}
// (MIDI pitch, seconds, MIDI velocity; the cents the piano was found sharp), for tests and curious users.
const SAMPLE_RATE = 16000, HOP_SIZE = 512, MIN_MIDI = 21;
const SECONDS_PER_FRAME = HOP_SIZE / SAMPLE_RATE;
const CONSTANT_VELOCITY = 80;                 // as transcribe.py, for models that do not predict velocity
const TUNING_TOLERANCE = 8;                   // cents from A = 440 Hz left as they are, as in transcribe.py
const query = new URLSearchParams(location.search);
// The address's thresholds, else the model's own (from model.json), else 0.5 (and no weak onsets).
const thresholdsFor = (model) => ({
  onsetThreshold: Number(query.get("onset_threshold") || model.onset_threshold || 0.5),
  frameThreshold: Number(query.get("frame_threshold") || model.frame_threshold || 0.5),
  weakOnsetThreshold: query.has("weak_onset_threshold") ? Number(query.get("weak_onset_threshold"))
                                                         : (model.weak_onset_threshold ?? null)});
// A file dropped before model.json arrives waits for it: it carries the model's thresholds.
const modelInfo = fetch("model.json").then((r) => r.json()).catch(() => ({}));
const $ = (id) => document.getElementById(id);
window.transcription = {done: false, notes: []};
let playing = null;

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// Any file the browser can decode, mixed to mono at 16 kHz (the browser resamples as it decodes), or at
// another rate: decoded at a rate some cents higher and played at 16 kHz, a piano sounds that much lower.
async function readAudio(file, rate = SAMPLE_RATE) {
  const context = new OfflineAudioContext(1, 1, rate);
  let decoded;
  try {
    decoded = await context.decodeAudioData(await file.arrayBuffer());
  } catch (error) {
    throw new Error(`Could not read ${file.name} as audio: this browser cannot decode it. ` +
                    "Try a WAV, MP3, OGG or FLAC file.");
  }
  const mono = new Float32Array(decoded.length);
  for (let channel = 0; channel < decoded.numberOfChannels; channel++) {
    decoded.getChannelData(channel).forEach((x, i) => { mono[i] += x / decoded.numberOfChannels; });
  }
  return mono;
}

function transcribeInWorker(audio, thresholds) {
  return new Promise((resolve, reject) => {
    const worker = new Worker("worker.js");
    worker.onmessage = ({data}) => {
      if (data.progress !== undefined) $("progress").value = data.progress;
      if (data.error) reject(new Error(`The model failed: ${data.error}`));
      if (data.result) resolve(data.result);
      if (data.error || data.result) worker.terminate();
    };
    worker.postMessage({audio, ...thresholds}, [audio.buffer]);
  });
}

// A note found in frame i started somewhere inside it: its time is the frame's middle (transcribe.py's note_seconds).
function frameSeconds(frame) {
  return (frame + 0.5) * SECONDS_PER_FRAME;
}

// `stretch`: seconds of the recording per second of the audio transcribed (not 1 when played in tune).
function asMidiNotes(result, stretch = 1) {
  return result.notes.map((n) => ({
    pitch: n.key + MIN_MIDI, start: frameSeconds(n.start) * stretch, end: frameSeconds(n.end) * stretch,
    velocity: result.hasVelocity ? Math.round(80 * n.velocity + 10) : CONSTANT_VELOCITY,
  }));
}

// Frame probabilities in grey, the notes found in red: a pixel per frame, three per key, shown at two
// screen pixels per frame (about 62 per second) in a strip that scrolls along time.
function draw(result, notes) {
  const canvas = $("roll");
  canvas.width = Math.max(result.nFrames, 1);
  canvas.height = 88 * 3;
  canvas.style.width = `${2 * canvas.width}px`;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let t = 0; t < result.nFrames; t++) {
    for (let key = 0; key < 88; key++) {
      const shade = 255 - Math.round(200 * result.frames[t * 88 + key]);
      for (let dy = 0; dy < 3; dy++) {
        const i = 4 * (((87 - key) * 3 + dy) * canvas.width + t);
        image.data.set([shade, shade, shade, 255], i);
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  ctx.fillStyle = "rgba(200, 0, 0, 0.8)";
  for (const n of notes) {
    ctx.fillRect(Math.floor(n.start / SECONDS_PER_FRAME), (87 - (n.pitch - MIN_MIDI)) * 3,
                 Math.max((n.end - n.start) / SECONDS_PER_FRAME, 1), 3);
  }
}

// Times go in as whole ticks, start and end each rounded once: rounding a start and a duration apart can put
// a note's end a tick after the start of the key's next note, and MIDI readers would then pair them wrongly.
function midiFile(notes) {
  const midi = new Midi();
  const track = midi.addTrack();
  track.name = "Piano";
  const ticks = (seconds) => Math.round(midi.header.secondsToTicks(seconds));
  for (const n of notes) {
    track.addNote({midi: n.pitch, ticks: ticks(n.start), durationTicks: ticks(n.end) - ticks(n.start),
                   velocity: n.velocity / 127});
  }
  return new Blob([midi.toArray()], {type: "audio/midi"});
}

// A small WebAudio piano: a triangle wave per note, struck and then decaying, louder with velocity.
function play(notes) {
  stop();
  const context = new AudioContext();
  const now = context.currentTime + 0.1;
  for (const n of notes) {
    const oscillator = context.createOscillator(), gain = context.createGain();
    oscillator.type = "triangle";
    oscillator.frequency.value = 440 * 2 ** ((n.pitch - 69) / 12);
    const level = 0.15 * n.velocity / 127, end = now + n.end + 0.3;
    gain.gain.setValueAtTime(0, now + n.start);
    gain.gain.linearRampToValueAtTime(level, now + n.start + 0.005);
    gain.gain.exponentialRampToValueAtTime(Math.max(level * 0.2, 1e-4), now + n.end);
    gain.gain.exponentialRampToValueAtTime(1e-4, end);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(now + n.start);
    oscillator.stop(end);
  }
  playing = context;
}

function stop() {
  if (playing) playing.close();
  playing = null;
}

async function handle(file) {
  window.transcription = {done: false, notes: []};
  $("result").classList.add("hidden");
  $("progress").classList.remove("hidden");
  $("progress").value = 0;
  try {
    say(`Reading ${file.name} ...`);
    const audio = await readAudio(file);
    const seconds = audio.length / SAMPLE_RATE;
    const measured = estimateTuning(audio, SAMPLE_RATE);               // tuning.js
    const cents = Math.abs(measured) >= TUNING_TOLERANCE ? measured : 0;
    const tuned = cents ? `, played ${Math.abs(cents).toFixed(0)} cents ${cents > 0 ? "sharp" : "flat"} ` +
                          "(transcribed in tune)" : "";
    say(`Transcribing ${seconds.toFixed(1)} s of audio${tuned} ...`);
    const started = performance.now();
    const inTune = cents ? await readAudio(file, Math.round(SAMPLE_RATE * 2 ** (cents / 1200))) : audio;
    const stretch = seconds / (inTune.length / SAMPLE_RATE);           // before the worker takes the audio
    const thresholds = thresholdsFor(await modelInfo);
    const result = await transcribeInWorker(inTune, thresholds);
    const notes = asMidiNotes(result, stretch);
    const took = (performance.now() - started) / 1000;
    say(`${file.name}: ${seconds.toFixed(1)} s${tuned}, ${notes.length} notes (transcribed in ${took.toFixed(1)} s).`);
    draw(result, asMidiNotes(result));                                 // on the frames of the audio transcribed
    $("download").href = URL.createObjectURL(midiFile(notes));
    $("download").download = file.name.replace(/\.[^.]*$/, "") + ".mid";
    $("play").onclick = () => play(notes);
    $("stop").onclick = stop;
    $("result").classList.remove("hidden");
    window.transcription = {done: true, notes, seconds, transcribeSeconds: took, thresholds,
                            tuning: cents};
  } catch (error) {
    say(error.message, true);
    window.transcription = {done: false, error: error.message, notes: []};
  } finally {
    $("progress").classList.add("hidden");
  }
}

$("file").addEventListener("change", (event) => event.target.files.length && handle(event.target.files[0]));
$("drop").addEventListener("dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  if (event.dataTransfer.files.length) handle(event.dataTransfer.files[0]);
});
modelInfo.then((info) => {
  if (info.description) $("model").textContent += ` Model: ${info.description}.`;
});
