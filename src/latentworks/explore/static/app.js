// latentworks explore: the run picker and the router to each family's view.
import { api, attempt, el, newView } from "./util.js";

const view = document.getElementById("view");
const select = document.getElementById("run-select");
const title = document.getElementById("run-title");
let runs = [];

async function show(id) {
  const run = runs.find((r) => r.id === id) || runs[0];
  if (!run) return;
  select.value = run.id;
  title.textContent = run.title;
  title.title = `run ${run.id}`;
  newView();
  history.replaceState(null, "", `#run=${encodeURIComponent(run.id)}`);
  view.replaceChildren();
  // The server names each run's view module (its family's, from the registry): the page keeps no list of them.
  const module = await import(`./${run.view}`);
  if (select.value === run.id) module.show(view, run);  // unless another run was picked meanwhile
}

async function start() {
  runs = await attempt(() => api("/api/runs"), "loading runs");
  if (!runs || !runs.length) { view.replaceChildren(el("p", { text: "No runs are served." })); return; }
  // The server lists the newest study first, each by family: one group per (study, family), each run by its
  // recipe and headline measure; the folder id is the tooltip.
  const groups = new Map();
  const studies = new Set(runs.map((r) => r.study));
  for (const run of runs) {
    const family = run.family_title || run.family;
    const name = studies.size > 1 ? `${run.study} · ${family}` : family;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(run);
  }
  for (const [name, list] of groups) {
    select.append(el("optgroup", { label: name },
      list.map((r) => el("option", { value: r.id, text: r.label || r.id, title: `run ${r.id}` }))));
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
