// The 2-D map of encoded held-out images, drawn on a canvas: hover or click a point to decode it, drag to walk
// (the latent moves in the map's plane from where the drag began, decoded as you go).
import { api, attempt, el, latestOnly, panel } from "./util.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf"];
const SIZE = 380;
const PAD = 14;

export function mapPanel(run, { decodeBody, onPick }) {
  const canvas = el("canvas", { id: "map", width: SIZE, height: SIZE, "aria-label": "latent map" });
  const ctx = canvas.getContext("2d");
  const preview = el("img", { id: "map-img", class: "big", alt: "decoded point" });
  const original = el("img", { id: "map-input", class: "big", alt: "held-out image" });
  const note = el("p", { class: "muted", text: "Loading the held-out images…" });
  const legend = el("div", { class: "legend" });
  const body = { run: run.id, points: 1000, seed: 0 };
  const points = new Map();
  let data = null;
  let box = null;
  let hovered = -1;
  let drag = null;

  const toPx = ([x, y]) => [PAD + ((x - box.x0) / (box.x1 - box.x0)) * (SIZE - 2 * PAD),
    SIZE - PAD - ((y - box.y0) / (box.y1 - box.y0)) * (SIZE - 2 * PAD)];
  const fromPx = (px, py) => [box.x0 + ((px - PAD) / (SIZE - 2 * PAD)) * (box.x1 - box.x0),
    box.y0 + ((SIZE - PAD - py) / (SIZE - 2 * PAD)) * (box.y1 - box.y0)];

  function draw() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
    if (!data) return;
    data.points.forEach((p, i) => {
      const [x, y] = toPx(p);
      ctx.fillStyle = data.labels ? PALETTE[data.labels[i] % PALETTE.length] : "#1f77b4";
      ctx.globalAlpha = 0.65;
      ctx.fillRect(x - 2, y - 2, 4, 4);
    });
    ctx.globalAlpha = 1;
    if (hovered >= 0) {
      const [x, y] = toPx(data.points[hovered]);
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 5, y - 5, 10, 10);
    }
    if (drag && drag.path.length > 1) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      drag.path.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    }
  }

  function nearest(px, py, within = 8) {
    let best = -1;
    let bestD = within * within;
    data.points.forEach((p, i) => {
      const [x, y] = toPx(p);
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  }

  async function point(i) {
    if (!points.has(i)) points.set(i, await api("/api/map/point", { ...body, index: i }));
    return points.get(i);
  }

  const showPoint = latestOnly(async (i) => attempt(async () => {
    const p = await point(i);
    preview.src = p.image;
    original.src = p.input;
  }, "map"));

  const walk = latestOnly(async (z, label) => attempt(async () => {
    const out = await api("/api/decode", decodeBody(z, label));
    preview.src = out.images[0];
  }, "map walk"));

  function planeLatent(start, [dx, dy]) {
    const [c1, c2] = data.basis.components;
    return start.map((v, j) => v + dx * c1[j] + (c2 ? dy * c2[j] : 0));
  }

  function position(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * (SIZE / rect.width), (event.clientY - rect.top) * (SIZE / rect.height)];
  }

  canvas.addEventListener("mousedown", async (event) => {
    if (!data) return;
    const [px, py] = position(event);
    const i = nearest(px, py);
    const at = fromPx(px, py);
    let start;
    let label = null;
    if (i >= 0) {
      const p = await attempt(() => point(i), "map");
      if (!p) return;
      start = p.z;
      label = p.label;
    } else {
      start = planeLatent(data.basis.mean, at);
      label = data.labels ? data.labels[nearest(px, py, SIZE)] : null;
    }
    drag = { start, at, label, index: i, moved: false, path: [[px, py]] };
  });
  canvas.addEventListener("mousemove", (event) => {
    if (!data) return;
    const [px, py] = position(event);
    if (drag) {
      const here = fromPx(px, py);
      drag.moved = true;
      drag.path.push([px, py]);
      drag.z = planeLatent(drag.start, [here[0] - drag.at[0], here[1] - drag.at[1]]);
      walk(drag.z, drag.label);
      draw();
      return;
    }
    const i = nearest(px, py);
    if (i !== hovered) {
      hovered = i;
      draw();
      if (i >= 0) showPoint(i);
    }
  });
  window.addEventListener("mouseup", () => {
    if (!drag) return;
    const done = drag;
    drag = null;
    draw();
    if (done.moved && done.z) onPick(done.z, done.label, "the end of your walk on the map");
    else if (done.index >= 0) onPick(done.start, done.label, `map point ${done.index}`);
  });

  attempt(async () => {
    data = await api("/api/map", body);
    const xs = data.points.map((p) => p[0]);
    const ys = data.points.map((p) => p[1]);
    const span = (a) => [Math.min(...a), Math.max(...a)];
    const [x0, x1] = span(xs);
    const [y0, y1] = span(ys);
    const px = (x1 - x0) * 0.05 || 1;
    const py = (y1 - y0) * 0.05 || 1;
    box = { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
    note.textContent = `${data.points.length} held-out images from ${data.data}; ${data.source === "pca"
      ? "first two principal components of their latents" : "their 2-D latents"}. Hover or click a point to decode it;`
      + ` drag to walk.${data.note ? " " + data.note : ""}`;
    if (data.labels) {
      const classes = [...new Set(data.labels)].sort((a, b) => a - b);
      legend.replaceChildren(...classes.map((k) => el("span", {}, el("i", { style: `background:${PALETTE[k % 10]}` }), `${k}`)));
    }
    draw();
  }, "map").then(() => { if (!data) note.textContent = "The map is not available for this run."; });
  draw();

  return panel("Map of held-out images", el("div", { class: "row" }, canvas,
    el("div", {}, el("figure", {}, preview, el("figcaption", { text: "decoded" })),
      el("figure", {}, original, el("figcaption", { text: "held-out image" })))), legend, note);
}
