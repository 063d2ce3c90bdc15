// The page's code (index.html), written out by tfbook_utils.web_export with model.js.
// Draw -> MNIST-style 28x28 input (as tfbook_utils/recognizer.py makes it) -> the lecture's CNN
// in TensorFlow.js (cpu backend: the same probabilities as TensorFlow's to about 1e-6) -> ten bars.
"use strict";

const FIELD = 28; // MNIST images are 28x28 ...
const BOX = 20; // ... with the digit scaled into a 20x20 box ...
const CENTRE = 14; // ... and its centre of mass at pixel (14, 14)
const PEN = 20; // pen width in canvas pixels: about MNIST's stroke width for a digit filling the canvas

const $ = (id) => document.getElementById(id);
const say = (text, problem = false) => {
  $("status").textContent = text;
  $("status").className = problem ? "problem" : "";
};

class Problem extends Error {}

// How much of source pixel j (covering [offset + j*scale, offset + (j+1)*scale)) lands in output
// pixel k: averaging over areas, the anti-aliased resampling of recognizer.py's _box_weights.
function boxWeights(n, scale, offset) {
  return Array.from({ length: FIELD }, (_, k) => Array.from({ length: n }, (_, j) => {
    const low = offset + j * scale;
    return Math.max(0, Math.min(low + scale, k + 1) - Math.max(low, k));
  }));
}

// ink: size*size values in [0, 1].  Crop to the ink, scale into 20x20, centre of mass at (14, 14).
// (recognizer.py also evens out the pen width; this page's pen already has MNIST's.)
function preprocess(ink, size) {
  const at = (r, c) => ink[r * size + c];
  const peak = ink.reduce((a, b) => Math.max(a, b), 0);
  if (peak < 0.05) return null;
  const speck = 0.01 * peak;
  let [top0, bottom, left0, right] = [size, -1, size, -1];
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) {
    if (at(r, c) >= speck) [top0, bottom, left0, right] = [Math.min(top0, r), r, Math.min(left0, c), Math.max(right, c)];
  }
  const [h, w] = [bottom - top0 + 1, right - left0 + 1];
  const crop = Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => {
    const v = at(top0 + r, left0 + c);
    return v < speck ? 0 : v;
  }));
  const scale = BOX / Math.max(h, w);
  let total = 0, cy = 0, cx = 0;
  crop.forEach((row, r) => row.forEach((v, c) => { total += v; cy += v * (r + 0.5); cx += v * (c + 0.5); }));
  const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
  const top = clip(CENTRE + 0.5 - (cy / total) * scale, FIELD - h * scale);
  const left = clip(CENTRE + 0.5 - (cx / total) * scale, FIELD - w * scale);
  const [wr, wc] = [boxWeights(h, scale, top), boxWeights(w, scale, left)];
  const image = new Float32Array(FIELD * FIELD);
  for (let k = 0; k < FIELD; k++) {
    const mixed = new Float64Array(w); // row k of wr @ crop
    wr[k].forEach((weight, r) => { if (weight) crop[r].forEach((v, c) => { mixed[c] += weight * v; }); });
    for (let l = 0; l < FIELD; l++) image[k * FIELD + l] = wc[l].reduce((s, weight, c) => s + weight * mixed[c], 0);
  }
  const brightest = image.reduce((a, b) => Math.max(a, b), 0);
  return image.map((v) => v / brightest);
}

// model.js (window.TFBOOK_MODEL) as a tf.LayersModel, or a Problem saying what is wrong.
async function loadModel() {
  if (typeof tf === "undefined") {
    throw new Problem("TensorFlow.js (tf.es2017.min.js) がこのフォルダーにありません。ページを書き出し直してください "
      + "(tf.es2017.min.js is missing: export the page again).");
  }
  const m = window.TFBOOK_MODEL;
  if (!m) {
    const what = window.TFBOOK_MISSING === "model.js" ? "がありません (is missing)" : "が壊れています (is damaged)";
    throw new Problem(`モデルのファイル model.js ${what}。python3 tfbook.py export-web で書き出し直してください。`);
  }
  let bytes;
  try {
    bytes = Uint8Array.from(atob(m.weightData), (ch) => ch.charCodeAt(0));
  } catch (error) {
    bytes = new Uint8Array(0);
  }
  let same = bytes.length === m.byteLength;
  if (same && globalThis.crypto && crypto.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    same = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") === m.sha256;
  }
  if (!same) {
    throw new Problem("モデルのファイル model.js の重みが壊れています (model.js is damaged: its weights do not match "
      + "their checksum)。python3 tfbook.py export-web で書き出し直してください。");
  }
  if (!(await tf.setBackend("cpu"))) throw new Problem("TensorFlow.js の cpu バックエンドが使えません。");
  const artifacts = { modelTopology: m.modelTopology, weightSpecs: m.weightSpecs, weightData: bytes.buffer };
  return { model: await tf.loadLayersModel(tf.io.fromMemory(artifacts)), source: m.source };
}

function showBars(probabilities) {
  const best = probabilities.indexOf(Math.max(...probabilities));
  $("bars").innerHTML = probabilities.map((q, d) => `<div class="bar${d === best ? " best" : ""}">`
    + `<span class="value">${q.toFixed(2)}</span><div class="fill" style="height:${(150 * q).toFixed(0)}px"></div>`
    + `<b>${d}</b></div>`).join("");
  $("prediction").innerHTML = `prediction: <b>${best}</b> (${(100 * probabilities[best]).toFixed(1)}%)`;
}

function showInput(image) {
  const ctx = $("input").getContext("2d");
  const pixels = ctx.createImageData(FIELD, FIELD);
  image.forEach((v, k) => {
    pixels.data.set([255 * (1 - v), 255 * (1 - v), 255 * (1 - v), 255], 4 * k);
  });
  ctx.putImageData(pixels, 0, 0);
}

// window.tfbook: what the page computes, for the course's tests and the curious (browser console).
const tfbook = (window.tfbook = { lastInput: null, lastProbabilities: null, preprocess });
tfbook.ready = loadModel().then(({ model, source }) => {
  tfbook.predict = async (image) => Array.from(await tf.tidy(() => model.predict(tf.tensor2d(image, [1, 784]))).data());
  tfbook.backend = tf.getBackend();
  say(`準備ができました。数字を1つ書いてください (ready: draw one digit)。`);
  $("about").textContent = `network: ${source}; TensorFlow.js ${tf.version.tfjs}, backend ${tfbook.backend}`;
  return true;
}).catch((error) => {
  say(error instanceof Problem ? error.message : `読み込めませんでした (could not load): ${error}`, true);
  return false;
});

const canvas = $("canvas");
const pen = canvas.getContext("2d", { willReadFrequently: true });
let drawing = false, busy = false, again = false, lastMove = 0;

async function recognise() {
  if (!tfbook.predict) return;
  if (busy) { again = true; return; }
  busy = true;
  const rgba = pen.getImageData(0, 0, canvas.width, canvas.height).data;
  const ink = new Float32Array(canvas.width * canvas.height).map((_, k) => rgba[4 * k + 3] / 255);
  const image = preprocess(ink, canvas.width);
  if (image) {
    const probabilities = await tfbook.predict(image);
    Object.assign(tfbook, { lastInput: Array.from(image), lastProbabilities: probabilities });
    showInput(image);
    showBars(probabilities);
  }
  busy = false;
  if (again) { again = false; recognise(); }
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left - canvas.clientLeft) * canvas.width / canvas.clientWidth,
          (event.clientY - box.top - canvas.clientTop) * canvas.height / canvas.clientHeight];
}
Object.assign(pen, { lineWidth: PEN, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  pen.beginPath();
  pen.moveTo(...point(event));
  pen.lineTo(...point(event));
  pen.stroke();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.lineTo(...point(event));
  pen.stroke();
  if (performance.now() - lastMove > 150) { // while drawing: a few predictions a second are enough
    lastMove = performance.now();
    recognise();
  }
});
canvas.addEventListener("pointerup", () => { drawing = false; recognise(); });
$("clear").addEventListener("click", () => {
  pen.clearRect(0, 0, canvas.width, canvas.height);
  Object.assign(tfbook, { lastInput: null, lastProbabilities: null });
  $("bars").innerHTML = "";
  $("prediction").textContent = "";
  $("input").getContext("2d").clearRect(0, 0, FIELD, FIELD);
});
