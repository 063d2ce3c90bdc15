// The browser side of tfbook_utils.browser_training.BrowserTraining (an anywidget).
// It trains the model of the TensorFlow.js walkthrough (tfjs-examples/mnist) with TensorFlow.js,
// in this browser tab, on the MNIST bytes the kernel sent, and reports every batch to the kernel.
// The training starts once per widget (initialize); each view (render) only draws the plot.

// TensorFlow.js comes from the kernel as text (the course ships it: tfbook_utils/tfjs/) and runs
// as a classic script from a blob: URL, once per page: a second copy would register every kernel
// twice.  The promise is kept on globalThis so that every widget of the page shares it.
function loadTensorFlow(source) {
  if (!globalThis.__tfbookTensorFlow) {
    globalThis.__tfbookTensorFlow = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      script.onload = () => resolve(globalThis.tf);
      script.onerror = () => reject(new Error("TensorFlow.js could not be loaded in this page"));
      document.head.append(script);
    });
  }
  return globalThis.__tfbookTensorFlow;
}

// The walkthrough's model, layer by layer (its comments are in the notebook's text).
function buildModel(tf) {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], kernelSize: 3, filters: 16, activation: "relu" }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.conv2d({ kernelSize: 3, filters: 32, activation: "relu" }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.conv2d({ kernelSize: 3, filters: 32, activation: "relu" }));
  model.add(tf.layers.flatten({}));
  model.add(tf.layers.dense({ units: 64, activation: "relu" }));
  model.add(tf.layers.dense({ units: 10, activation: "softmax" }));
  model.compile({ optimizer: tf.train.rmsprop(0.01), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}

const bytes = (view) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

// Images [start, end) as a float tensor of shape [n, 28, 28, 1] (pixel / 255) and one-hot labels.
function tensors(tf, images, labels, indices) {
  const xs = new Float32Array(indices.length * 784);
  const ys = new Float32Array(indices.length * 10);
  indices.forEach((image, row) => {
    for (let k = 0; k < 784; k++) xs[row * 784 + k] = images[image * 784 + k] / 255;
    ys[row * 10 + labels[image]] = 1;
  });
  return { xs: tf.tensor4d(xs, [indices.length, 28, 28, 1]), ys: tf.tensor2d(ys, [indices.length, 10]) };
}

const range = (start, end) => Array.from({ length: end - start }, (_, k) => start + k);

function shuffled(indices) {
  for (let k = indices.length - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * (k + 1));
    [indices[k], indices[j]] = [indices[j], indices[k]];
  }
  return indices;
}

// What every view of one training shows, kept per run_id (anywidget hands initialize and render
// different model objects); views redraw through their listeners.
const runs = (globalThis.__tfbookTrainingRuns ||= new Map());
function runFor(id) {
  if (!runs.has(id)) runs.set(id, { history: [], lines: [], total: 0, listeners: new Set() });
  return runs.get(id);
}
function update(run, change) {
  Object.assign(run, change);
  run.listeners.forEach((listener) => listener());
}

async function train(model, run) {
  const send = (message) => model.send({ page: run.page, ...message });
  update(run, { lines: ["TensorFlow.js を読み込んでいます..."] });
  const tf = await loadTensorFlow(model.get("tfjs"));
  await tf.ready();
  const backend = tf.getBackend();
  const images = bytes(model.get("train_images"));
  const labels = bytes(model.get("train_labels"));
  const batchSize = model.get("batch_size");
  const epochs = model.get("epochs");
  const count = labels.length;
  // validationSplit, as model.fit does it: the last 15 % of the training images are kept aside
  const trainCount = Math.floor(count * (1 - model.get("validation_split")));
  const limit = model.get("eval_limit") || count; // quick runs evaluate on fewer images
  const perEpoch = Math.min(Math.ceil(trainCount / batchSize), model.get("max_batches") || Infinity);
  const total = perEpoch * epochs;
  const net = buildModel(tf);
  send({ kind: "start", backend, parameters: net.countParams(), batches: total, tfjs: tf.version.tfjs,
         train: trainCount, validation: Math.min(count - trainCount, limit) });
  update(run, { total, lines: [`バックエンド ${backend}、パラメーター ${net.countParams().toLocaleString()} 個`] });

  // one small tensor per batch: fitDataset disposes each batch after its step
  const batches = () => tf.data.generator(function* () {
    const order = shuffled(range(0, trainCount));
    for (let b = 0; b < perEpoch; b++) yield tensors(tf, images, labels, order.slice(b * batchSize, (b + 1) * batchSize));
  });
  const validation = tensors(tf, images, labels, range(trainCount, Math.min(count, trainCount + limit)));
  let done = 0;
  let last = performance.now();
  const started = last;
  let epochLine = "";
  await net.fitDataset(batches(), {
    epochs,
    validationData: [validation.xs, validation.ys],
    callbacks: {
      onBatchEnd: async (batch, logs) => {
        done++;
        const now = performance.now();
        send({ kind: "batch", batch: done, loss: logs.loss, accuracy: logs.acc, ms: now - last });
        last = now;
        const progress = `訓練中... (${((done / total) * 100).toFixed(1)}% 完了、${done}/${total} バッチ)`;
        update(run, { history: [...run.history, [done, logs.loss, logs.acc]], lines: [run.lines[0], progress] });
        await tf.nextFrame();
      },
      onEpochEnd: async (epoch, logs) => {
        send({ kind: "epoch", epoch: epoch + 1, loss: logs.val_loss, accuracy: logs.val_acc });
        epochLine = `${epoch + 1}回目のエポック終了: 検証用データの損失 ${logs.val_loss.toFixed(4)}、正解率 ${logs.val_acc.toFixed(4)}`;
        update(run, { lines: [run.lines[0], run.lines[1], epochLine] });
      },
    },
  });
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([validation.xs, validation.ys]);
  const testImages = bytes(model.get("test_images"));
  const testLabels = bytes(model.get("test_labels"));
  const test = tensors(tf, testImages, testLabels, range(0, Math.min(testLabels.length, limit)));
  const [loss, accuracy] = net.evaluate(test.xs, test.ys, { batchSize: 500 }).map((t) => t.dataSync()[0]);
  tf.dispose([test.xs, test.ys]);
  send({ kind: "done", loss, accuracy, seconds, test_images: test.ys.shape[0] });
  update(run, { lines: [...run.lines, `テスト用データの正解率: ${(accuracy * 100).toFixed(2)}%（訓練 ${seconds.toFixed(0)} 秒）`] });
  net.dispose();
}

function initialize({ model }) {
  const run = runFor(model.get("run_id"));
  if (run.page) return; // this page already trains it
  run.page = `${Date.now()}-${Math.random()}`;
  train(model, run).catch((error) => {
    model.send({ page: run.page, kind: "error", message: String((error && error.message) || error) });
    update(run, { lines: [...run.lines, `エラー: ${error}`] });
  });
}

// Loss (blue, left scale 0..2.5) and accuracy (orange, right scale 0..1) after every batch.
function draw(canvas, run) {
  const ctx = canvas.getContext("2d");
  const [w, h, pad] = [canvas.width, canvas.height, 30];
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#999";
  ctx.strokeRect(pad, 10, w - 2 * pad, h - 40);
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.fillText("loss", 2, 20);
  ctx.fillText("acc", w - pad + 4, 20);
  ctx.fillText(`batch (of ${run.total || "?"})`, w / 2 - 30, h - 8);
  const x = (batch) => pad + ((w - 2 * pad) * batch) / Math.max(run.total, 1);
  const y = (value, top) => 10 + (h - 40) * (1 - Math.min(value / top, 1));
  for (const [column, top, colour] of [[1, 2.5, "#1f77b4"], [2, 1, "#ff7f0e"]]) {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    run.history.forEach((point, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, x(point[0]), y(point[column], top)));
    ctx.stroke();
  }
  canvas.dataset.points = String(run.history.length);
}

function render({ model, el }) {
  const run = runFor(model.get("run_id"));
  const root = document.createElement("div");
  root.className = "tfbook-tfjs";
  const canvas = document.createElement("canvas");
  canvas.width = 560;
  canvas.height = 220;
  const text = document.createElement("div");
  text.className = "tfbook-tfjs-progress";
  text.style.fontFamily = "sans-serif";
  root.append(canvas, text);
  el.append(root);
  const listener = () => {
    draw(canvas, run);
    text.innerText = run.lines.join("\n");
  };
  run.listeners.add(listener);
  listener();
  return () => run.listeners.delete(listener);
}

export default { initialize, render };
