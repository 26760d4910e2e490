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
    if (data.answer_image === undefined && data.read_by !== undefined) lines.push(...readAndCompute(data));
    else {
      if (data.query !== null && data.query !== undefined) lines.push(el("div", {}, "query ", el("code", { text: `“${data.query.trim()}”` })));
      if (data.answer !== undefined) lines.push(el("div", { class: "big-text" }, "answer ", el("strong", { text: data.answer.trim() || "(blank)" })));
      if (data.answer_image) lines.push(el("img", { src: data.answer_image, class: "strip-img", alt: "drawn answer" }));
      if (data.read !== null && data.read !== undefined) {
        lines.push(el("div", {}, "a digit reader reads the drawn answer as ", el("code", { text: `“${data.read.trim()}”` })));
      }
      if (data.expected !== null && data.expected !== undefined) {
        const ok = (data.answer ?? data.read ?? "").trim() === data.expected;
        lines.push(el("div", { id: "truth", class: ok ? "ok" : "bad" }, `true answer ${data.expected}${ok ? " ✓" : " ✗"}`));
      }
    }
    lines.push(splitLine(data));
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
    : `Two numbers 0..${run.max_int} (the trained range) joined by ${[...run.ops].join(" or ")}`
      + (run.task === "text2text" ? "; larger ones are answered too, tagged outside the trained range." : ".");
  const direction = { text2text: "text→text", img2text: "image→text", text2img: "text→image" }[run.task] || run.task;
  view.append(panel(`Ask the ${direction} model`, el("p", { class: "muted", text: help }),
    drawing ? pad.node : null, el("div", { class: "controls" }, el("label", {}, "query ", query), buttons), out));
  if (drawing) handwriting(true); else ask();
}

// Where the query stands against training, and why that matters: the headline claim is exact match on queries
// never seen in training.
const SPLIT = {
  held_out: ["held out", "Never seen in training: the project's headline claim is exact match on queries like "
    + "this one, so a right answer here shows the rule learnt, not a memory."],
  seen: ["seen in training", "The model trained on this very query, so a right answer may be memory; the "
    + "headline exact match counts only held-out queries."],
  outside: ["outside the trained range", "No query this large was in training: a right answer shows the rule "
    + "carried beyond the data it was learnt from."],
};

function splitLine(data) {
  const of = data.split_of === "read" ? " (of what was read: no true query was given)" : "";
  if (!data.split) return el("p", { id: "split", class: "muted", text: data.split_note || "" });
  const [name, why] = SPLIT[data.split];
  return el("p", { id: "split", "data-split": data.split },
    el("span", { class: `tag ${data.split}`, title: data.split_note, text: name }), ` ${why}${of}`,
    el("span", { class: "muted", text: ` (${data.split_note})` }));
}

// An image→text answer in its two steps: what was read (against the true query), what the model computed from
// it (against the answer of what it read), and the true answer; end-to-end models have no reading of their own.
function readAndCompute(data) {
  const q = (text) => (text ?? "").trim();
  const lines = [];
  const truth = data.query !== null && data.query !== undefined ? q(data.query) : null;
  const read = data.read !== null && data.read !== undefined ? q(data.read) : null;
  const answer = q(data.answer) || "(blank)";
  if (data.model_reads === "symbols") {
    const misread = truth !== null && read !== truth;
    lines.push(el("div", { id: "read-step", class: truth === null ? "" : misread ? "bad" : "ok" }, "read ",
      el("code", { text: read || "(nothing)" }),
      truth === null ? " (you drew it: no true query to compare)" : misread ? ` (true query ${truth}): a reading error`
        : " (the true query) ✓"));
    const right = data.read_expected !== null && answer === data.read_expected;
    lines.push(el("div", { id: "compute-step", class: right ? "ok" : "bad" }, "computed ", el("strong", { text: answer }),
      " from what it read ", data.read_expected === null ? `(“${read}” is not a query it can answer)`
        : right ? `(right for ${read})` : `(wrong for ${read}, which is ${data.read_expected})`));
  } else {
    const how = data.model_reads === "invented" ? "reads each glyph into classes of its own, which have no names"
      : "goes from pixels to answer in one step";
    lines.push(el("div", { id: "read-step", class: "muted" }, `This model ${how}: it has no reading of its own to show.`,
      read !== null ? el("span", {}, " The package's digit reader reads the picture as ", el("code", { text: read }),
        truth !== null && read !== truth ? ` (true query ${truth})` : "", ".") : null));
    lines.push(el("div", { id: "compute-step" }, "answered ", el("strong", { text: answer })));
  }
  if (data.expected !== null && data.expected !== undefined) {
    const ok = answer === data.expected;
    lines.push(el("div", { id: "truth", class: `big-text ${ok ? "ok" : "bad"}` },
      truth === null ? `true answer of what was read ${data.expected}` : `true answer ${data.expected}`, ok ? " ✓" : " ✗"));
  }
  return lines;
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

export { showArithmetic as show };  // the name the run picker loads each family's view by
