// Helpers every view shares: the status line, JSON calls to the API, a tiny DOM builder, sliders.
// A 1×1 transparent picture: image slots show their black background until something is decoded into them.
export const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

const statusEl = document.getElementById("status");
let statusTimer = null;

export function status(text, isError = false) {
  statusEl.textContent = text || "";
  statusEl.classList.toggle("error", !!isError);
  clearTimeout(statusTimer);
  if (text && !isError) statusTimer = setTimeout(() => { statusEl.textContent = ""; }, 2500);
}

// POST JSON to the API; a 4xx/5xx answer becomes an Error carrying the server's one-line message.
export async function api(path, body, options = {}) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: options.signal,
  });
  if (options.raw && res.ok) return res;
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

// The view shown now: a run change starts a new one, so an answer to the old view's request says nothing.
let viewNumber = 0;

// A new view (a run change): the old view's error is cleared, and its late answers are ignored.
export function newView() {
  viewNumber += 1;
  status("");
}

// Run an async task, showing its error (never throwing): the page keeps working after a bad request. An error
// stays until the next task succeeds or the run changes, so it never describes a later, good answer.
export async function attempt(task, label = "") {
  const mine = viewNumber;
  try {
    const result = await task();
    if (mine === viewNumber && statusEl.classList.contains("error")) status("");
    return result;
  } catch (err) {
    if (err && err.name === "AbortError") return undefined;
    if (mine === viewNumber) status(`${label ? label + ": " : ""}${err.message || err}`, true);
    return undefined;
  }
}

// At most one request of a kind in flight; calls made meanwhile collapse into the latest one.
export function latestOnly(fn) {
  let running = false;
  let pending = null;
  async function run(args) {
    running = true;
    try { await fn(...args); } finally {
      running = false;
      if (pending) { const next = pending; pending = null; run(next); }
    }
  }
  return (...args) => { if (running) pending = args; else run(args); };
}

// Small DOM builder: el("div", {class: "x", onclick: f}, child, "text", ...).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  if (tag === "img" && !attrs.src) node.src = BLANK;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function panel(title, ...children) {
  return el("section", { class: "panel" }, el("h2", { text: title }), ...children);
}

export function slider(label, { min, max, step, value, id, oninput, format = (v) => v }) {
  const out = el("output", { text: format(value) });
  const input = el("input", { type: "range", min, max, step, value, id, "aria-label": label });
  input.addEventListener("input", () => { out.textContent = format(Number(input.value)); oninput(Number(input.value)); });
  return el("label", { class: "slider" }, el("span", { text: label }), input, out);
}
