// Arithmetic runs: type a query and see the answer (text, or the drawn answer); image→text runs read a query
// drawn with the mouse (one 28×28 cell per character, drawn larger here) or written in MNIST test handwriting.
import { api, attempt, el, panel } from "./util.js";

const CELL = 112; // on-screen pixels per character cell (the model sees 28)

export function showArithmetic(view, run) {
  const example = run.max_int >= 34 ? `12${run.ops[0]}34` : `3${run.ops[0]}${run.max_int}`;
  const query = el("input", { type: "text", id: "query", value: example, maxlength: 64, "aria-label": "query",
    placeholder: example });
  const out = el("div", { id: "answer", class: "answer" });
  const drawing = run.capabilities.includes("sketch");
  const pad = drawing ? drawPad(run.query_len, () => { query.value = ""; }) : null;
  let seed = 0;

  function report(data) {
    const lines = [];
    if (data.query !== null && data.query !== undefined) lines.push(el("div", {}, "query ", el("code", { text: `“${data.query}”` })));
    if (data.read !== null && data.read !== undefined) {
      const who = data.read_by === "model" ? "the model reads " : drawing ? "a digit reader reads the glyphs as "
        : "a digit reader reads the drawing as ";
      lines.push(el("div", {}, who,
        el("code", { text: `“${data.read}”` })));
    }
    if (data.answer !== undefined) lines.push(el("div", { class: "big-text" }, "answer ", el("strong", { text: data.answer.trim() || "(blank)" })));
    if (data.answer_image) lines.push(el("img", { src: data.answer_image, class: "strip-img", alt: "drawn answer" }));
    if (data.expected !== null && data.expected !== undefined) {
      const got = (data.answer ?? data.read ?? "").trim();
      const ok = got === data.expected;
      lines.push(el("div", { class: ok ? "ok" : "bad" }, `true answer ${data.expected}${ok ? " ✓" : ""}`));
    }
    if (data.query_image) lines.push(el("figure", {}, el("img", { src: data.query_image, class: "strip-img", alt: "query as the model sees it" }),
      el("figcaption", { text: "what the model sees (28×28 per character)" })));
    out.replaceChildren(...lines);
  }

  async function ask() {
    await attempt(async () => {
      const body = { run: run.id, query: query.value, seed };
      if (drawing && !pad.isEmpty()) {
        body.image = pad.image();
        if (pad.isDrawn()) delete body.query; // the drawing is the query: the expected answer follows from its reading
      }
      report(await api("/api/arithmetic/answer", body));
    }, "answer");
  }

  async function handwriting(random) {
    await attempt(async () => {
      seed = Math.floor(Math.random() * 1e6);
      const body = { run: run.id, seed };
      if (!random && query.value.trim()) body.query = query.value;
      const data = await api("/api/arithmetic/handwriting", body);
      query.value = data.query.trim();
      await pad.load(data.image);
      await ask();
    }, "handwriting");
  }

  query.addEventListener("keydown", (event) => { if (event.key === "Enter") (drawing ? handwriting(false) : ask()); });
  const buttons = drawing
    ? [el("button", { type: "button", id: "handwriting", onclick: () => handwriting(true) }, "random test handwriting"),
      el("button", { type: "button", onclick: () => handwriting(false) }, "write my query in test handwriting"),
      el("button", { type: "button", id: "read", onclick: ask }, "read & answer"),
      el("button", { type: "button", onclick: () => { pad.clear(); out.replaceChildren(); } }, "clear")]
    : [el("button", { type: "button", id: "ask", onclick: ask }, "answer"),
      run.capabilities.includes("restyle") ? el("button", { type: "button", id: "another-hand", title: "draw the answer again from a new style seed",
        onclick: () => { seed = Math.floor(Math.random() * 1e6); ask(); } }, "another hand") : null];
  const help = drawing
    ? `Draw the query with the mouse, one character per cell (${run.query_len} cells; leave trailing cells blank for `
      + "spaces), white ink on black like MNIST, or take MNIST test-split handwriting."
    : `Two numbers 0..${run.max_int} joined by ${[...run.ops].join(" or ")}.`;
  view.append(panel(`Ask the ${run.task} model`, el("p", { class: "muted", text: help }),
    drawing ? pad.node : null, el("div", { class: "controls" }, el("label", {}, "query ", query), buttons), out));
  if (drawing) handwriting(true); else ask();
}

function drawPad(length, onDraw) {
  const canvas = el("canvas", { id: "draw", width: CELL * length, height: CELL, "aria-label": "drawing pad" });
  const ctx = canvas.getContext("2d");
  let empty = true;
  let strip = null; // the 28-pixel MNIST strip shown, until the user draws over it
  let last = null;

  function clear() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#444";
    ctx.lineWidth = 1;
    for (let i = 1; i < length; i += 1) {
      ctx.beginPath(); ctx.moveTo(i * CELL + 0.5, 0); ctx.lineTo(i * CELL + 0.5, CELL); ctx.stroke();
    }
    empty = true;
    strip = null;
  }
  function at(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * (canvas.width / rect.width), (event.clientY - rect.top) * (canvas.height / rect.height)];
  }
  function stroke(p) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = CELL / 9;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...(last || p));
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
    empty = false;
    strip = null;
  }
  canvas.addEventListener("mousedown", (e) => { last = null; if (strip || empty) onDraw(); stroke(at(e)); });
  canvas.addEventListener("mousemove", (e) => { if (e.buttons & 1) stroke(at(e)); });
  canvas.addEventListener("mouseup", () => { last = null; });
  canvas.addEventListener("mouseleave", () => { last = null; });
  clear();

  // The grid lines are not ink: export the cells without them.
  function image() {
    if (strip) return strip;
    const copy = document.createElement("canvas");
    copy.width = canvas.width;
    copy.height = canvas.height;
    const c = copy.getContext("2d");
    c.drawImage(canvas, 0, 0);
    c.fillStyle = "#000";
    for (let i = 1; i < length; i += 1) c.fillRect(i * CELL - 1, 0, 3, CELL);
    return copy.toDataURL("image/png");
  }
  function load(src) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => {
        clear();
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        empty = false;
        strip = src;
        resolve();
      };
      img.src = src;
    });
  }
  return { node: el("div", { class: "pad" }, canvas), clear, image, load, isEmpty: () => empty,
    isDrawn: () => !empty && !strip };
}
