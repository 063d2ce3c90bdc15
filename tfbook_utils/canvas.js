// The browser side of tfbook_utils.canvas.DrawingCanvas (an anywidget).
// It draws the strokes with a round pen and shares them with the kernel
// through the widget's "strokes" traitlet: while drawing, at most once per
// sync_interval_ms, and when the pen is lifted.  The kernel does the rest.
// A point is two finite numbers, as the kernel checks too: anything else
// (null, text, three numbers) is dropped on its own, not its whole stroke.
const isPoint = (q) => Array.isArray(q) && q.length === 2 && q.every(Number.isFinite);
const copy = (strokes) =>
  (Array.isArray(strokes) ? strokes : [])
    .filter((s) => Array.isArray(s))
    .map((s) => s.filter(isPoint).map((q) => [q[0], q[1]]));

// What is sent is thinned as the kernel thins it (canvas.py, simplify): along each stroke a point
// is kept once the pen has travelled MIN_STEP pixels since the previous stage, more for a scribble
// longer than MAX_POINTS such steps, and both ends always.  A drawn digit (points 2 px apart, a
// few hundred of them) goes as it is; a long scribble stays a message of about MAX_POINTS points.
const MIN_STEP = 1.5;
const MAX_POINTS = 500;
const gap = (s, i) => Math.hypot(s[i][0] - s[i - 1][0], s[i][1] - s[i - 1][1]);
function thin(strokes) {
  let total = 0;
  for (const s of strokes) for (let i = 1; i < s.length; i++) total += gap(s, i);
  const step = Math.max(MIN_STEP, total / MAX_POINTS);
  return strokes.map((s) => {
    let travelled = 0;
    let stage = 0;
    return s.filter((q, i) => {
      if (i === 0) return true;
      travelled += gap(s, i);
      const previous = stage;
      stage = Math.floor(travelled / step);
      return stage > previous || i === s.length - 1;
    });
  });
}

function render({ model, el }) {
  const size = model.get("size");
  const root = document.createElement("div");
  root.className = "tfbook-canvas";
  const canvas = document.createElement("canvas");
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  canvas.style.touchAction = "none"; // a finger draws instead of scrolling the page
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Clear";
  root.append(canvas, button);
  el.append(root);
  const ctx = canvas.getContext("2d");

  let strokes = copy(model.get("strokes"));
  let current = null; // the stroke being drawn
  let pointerId = null; // the one pointer that draws (mouse, pen or first finger)
  let timer = null;
  let lastSync = 0;

  function fitToScreen() {
    // Back the canvas with device pixels so the ink is sharp on high-DPI screens.
    const dpr = window.devicePixelRatio || 1;
    const side = Math.round(size * dpr);
    if (canvas.width !== side || canvas.height !== side) {
      canvas.width = side;
      canvas.height = side;
    }
    ctx.setTransform(side / size, 0, 0, side / size, 0, 0);
  }

  function trace(points) {
    // A smooth curve through the midpoints, like a pen, not a polyline.
    const [x0, y0] = points[0];
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    if (points.length === 1) {
      ctx.lineTo(x0 + 0.01, y0); // a dot
    } else {
      for (let i = 1; i < points.length - 1; i++) {
        const [x, y] = points[i];
        const [nx, ny] = points[i + 1];
        ctx.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
      }
      const [xl, yl] = points[points.length - 1];
      ctx.lineTo(xl, yl);
    }
    ctx.stroke();
  }

  function redraw() {
    fitToScreen();
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "black";
    // The kernel keeps pen_width between 1 and a quarter of the canvas (a wider pen leaves no room
    // for a digit's loops); the same limits here, so the page shows what the kernel reads.
    ctx.lineWidth = Math.min(Math.max(Number(model.get("pen_width")) || 20, 1), size / 4);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const points of strokes) {
      if (points.length > 0) trace(points);
    }
  }

  function pointOf(event) {
    // Client pixels to canvas pixels, also when the page is zoomed or scaled.
    const box = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(Math.max(v, 0), size);
    // measure inside the 2 px border; scale covers page zoom and CSS transforms
    const scaleX = box.width / (canvas.offsetWidth || box.width || 1);
    const scaleY = box.height / (canvas.offsetHeight || box.height || 1);
    const innerW = (canvas.clientWidth || box.width / scaleX || size) * scaleX;
    const innerH = (canvas.clientHeight || box.height / scaleY || size) * scaleY;
    const x = clamp(((event.clientX - box.left - (canvas.clientLeft || 0) * scaleX) * size) / innerW);
    const y = clamp(((event.clientY - box.top - (canvas.clientTop || 0) * scaleY) * size) / innerH);
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  function sync() {
    clearTimeout(timer);
    timer = null;
    lastSync = performance.now();
    model.set("strokes", thin(copy(strokes)));
    model.save_changes();
  }

  function syncSoon() {
    // At most one message per interval while the pen moves.
    if (timer !== null) return;
    const wait = Math.max(0, model.get("sync_interval_ms") - (performance.now() - lastSync));
    timer = setTimeout(sync, wait);
  }

  function start(event) {
    if (pointerId !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    pointerId = event.pointerId;
    try {
      canvas.setPointerCapture(event.pointerId); // keep the stroke when the pen leaves the canvas
    } catch (error) {
      // the pointer is already gone; the stroke still works inside the canvas
    }
    current = [pointOf(event)];
    strokes.push(current);
    redraw();
    syncSoon();
  }

  function move(event) {
    if (event.pointerId !== pointerId || current === null) return;
    event.preventDefault();
    const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of coalesced.length > 0 ? coalesced : [event]) {
      const q = pointOf(e);
      const last = current[current.length - 1];
      if (Math.hypot(q[0] - last[0], q[1] - last[1]) >= 2) current.push(q);
    }
    redraw();
    syncSoon();
  }

  function end(event) {
    if (event.pointerId !== pointerId) return;
    pointerId = null;
    current = null;
    sync();
  }

  function clear() {
    strokes = [];
    current = null;
    pointerId = null;
    redraw();
    sync();
  }

  function fromKernel() {
    // The kernel changed the strokes (clear(), a sample digit); never mid-stroke.
    if (pointerId !== null) return;
    strokes = copy(model.get("strokes"));
    redraw();
  }

  canvas.addEventListener("pointerdown", start);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);
  button.addEventListener("click", clear);
  model.on("change:strokes", fromKernel);
  model.on("change:pen_width", redraw);
  const screen = () => redraw();
  window.addEventListener("resize", screen); // devicePixelRatio changes with zoom and screens
  redraw();

  return () => {
    clearTimeout(timer);
    window.removeEventListener("resize", screen);
    model.off("change:strokes", fromKernel);
    model.off("change:pen_width", redraw);
  };
}

export default { render };
