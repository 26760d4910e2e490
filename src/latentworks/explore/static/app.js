// latentworks explore: the run picker and the router to each family's view.
import { api, attempt, el } from "./util.js";
import { showGenerative } from "./gen.js";
import { showArithmetic } from "./arith.js";
import { showCharRNN } from "./charrnn.js";

const view = document.getElementById("view");
const select = document.getElementById("run-select");
const title = document.getElementById("run-title");
let runs = [];

function show(id) {
  const run = runs.find((r) => r.id === id) || runs[0];
  if (!run) return;
  select.value = run.id;
  title.textContent = run.title;
  history.replaceState(null, "", `#run=${encodeURIComponent(run.id)}`);
  view.replaceChildren();
  const views = { generative: showGenerative, arithmetic: showArithmetic, charrnn: showCharRNN };
  views[run.family](view, run);
}

async function start() {
  runs = await attempt(() => api("/api/runs"), "loading runs");
  if (!runs || !runs.length) { view.replaceChildren(el("p", { text: "No runs are served." })); return; }
  const groups = {};
  for (const run of runs) (groups[run.family] ||= []).push(run);
  for (const [family, list] of Object.entries(groups)) {
    select.append(el("optgroup", { label: family }, list.map((r) => el("option", { value: r.id, text: r.id }))));
  }
  select.addEventListener("change", () => show(select.value));
  window.addEventListener("hashchange", () => {
    const id = new URLSearchParams(location.hash.slice(1)).get("run");
    if (id && id !== select.value) show(id);
  });
  const wanted = new URLSearchParams(location.hash.slice(1)).get("run");
  show(wanted || runs[0].id);
}

start();
