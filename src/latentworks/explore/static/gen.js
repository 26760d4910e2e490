// Generative runs: the seeded grid, interpolation + animation, latent-direction sliders, vector arithmetic,
// the class / code pickers, uploads, and (genmap.js) the 2-D map of held-out images.
import { api, attempt, el, latestOnly, panel, slider, status } from "./util.js";
import { mapPanel } from "./genmap.js";

export function showGenerative(view, run) {
  const has = (cap) => run.capabilities.includes(cap);
  const S = {
    n: run.latent_dim <= 2 ? 6 : 5, seed: 0, scale: 1, label: null, code: null, cells: [], pair: [],
    walk: null, dirs: [], values: [], slots: { A: null, B: null, C: null }, arm: null,
    steps: 10, method: "lerp", frames: [], timer: null,
  };
  const decodeBody = (z, label) => {
    const body = { run: run.id, z: [z] };
    if (has("labels")) body.label = label ?? S.label ?? 0;
    if (S.code !== null) body.code = S.code;
    return body;
  };

  // ---------------------------------------------------------------- the grid
  const grid = el("div", { id: "grid", class: "grid" });
  const seedInput = el("input", { type: "number", id: "seed", min: 0, value: S.seed, "aria-label": "seed" });
  const nInput = el("input", { type: "number", id: "grid-n", min: 1, max: 16, value: S.n, "aria-label": "grid side" });
  const refresh = latestOnly(loadGrid);
  seedInput.addEventListener("change", () => { S.seed = Math.max(0, Number(seedInput.value) || 0); refresh(); });
  nInput.addEventListener("change", () => {
    S.n = Math.min(16, Math.max(1, Number(nInput.value) || 1)); nInput.value = S.n; refresh();
  });
  const controls = [
    el("label", {}, "seed ", seedInput),
    el("button", { type: "button", onclick: () => { S.seed += 1; seedInput.value = S.seed; refresh(); } }, "next seed"),
    el("label", {}, "n ", nInput),
    slider("latent scale", { min: 0.1, max: 2, step: 0.05, value: 1, id: "scale",
      oninput: (v) => { S.scale = v; refresh(); }, format: (v) => Number(v).toFixed(2) }),
  ];
  if (has("labels")) {
    const pick = el("select", { id: "label-pick", "aria-label": "class" }, el("option", { value: "", text: "by column" }),
      [...Array(run.num_classes).keys()].map((k) => el("option", { value: k, text: `class ${k}` })));
    pick.addEventListener("change", () => {
      S.label = pick.value === "" ? null : Number(pick.value);
      if (S.walk && S.label !== null) S.walk.label = S.label;
      refresh();
    });
    controls.push(el("label", {}, "digit ", pick));
  }
  if (has("codes")) {
    const pick = el("select", { id: "code-pick", "aria-label": "code" }, el("option", { value: "", text: "any" }),
      [...Array(run.codes).keys()].map((k) => el("option", { value: k, text: `code ${k}` })));
    pick.addEventListener("change", () => { S.code = pick.value === "" ? null : Number(pick.value); refresh(); });
    controls.push(el("label", {}, "InfoGAN code ", pick));
  }
  const hint = el("p", { class: "muted", text: "Click two cells to interpolate between them; the last one clicked is "
    + "where the sliders start." });

  async function loadGrid() {
    await attempt(async () => {
      const body = { run: run.id, n: S.n, seed: S.seed, scale: S.scale };
      if (S.label !== null) body.label = S.label;
      if (S.code !== null) body.code = S.code;
      const data = await api("/api/sample", body);
      S.cells = data.images.map((src, i) => ({ src, z: data.z[i], label: data.labels ? data.labels[i] : null }));
      grid.style.gridTemplateColumns = `repeat(${data.n}, 1fr)`;
      grid.replaceChildren(...S.cells.map((c, i) => el("img", {
        src: c.src, alt: `cell ${i}`, title: `cell ${i}${c.label !== null ? ` · class ${c.label}` : ""}`,
        "data-index": i, onclick: () => clickCell(i),
      })));
      const last = S.cells.length - 1;
      S.pair = [0, last].filter((i, k, all) => all.indexOf(i) === k);
      markCells();
      if (S.pair.length === 2) interpolate();
      setWalk(S.cells[last].z, S.cells[last].label, `cell ${last}`);
    }, "sample");
  }

  function markCells() {
    grid.querySelectorAll("img").forEach((img, i) => img.classList.toggle("picked", S.pair.includes(i)));
  }

  function clickCell(i) {
    const cell = S.cells[i];
    if (S.arm) { fillSlot(S.arm, cell, i); return; }
    S.pair = [...S.pair.filter((j) => j !== i), i].slice(-2);
    markCells();
    if (S.pair.length === 2) interpolate();
    setWalk(cell.z, cell.label, `cell ${i}`);
  }

  // ---------------------------------------------------------------- interpolation and its animation
  const strip = el("div", { id: "interp-strip", class: "strip" });
  const anim = el("img", { id: "anim", class: "big", alt: "animation along the path" });
  const playBtn = el("button", { type: "button", onclick: () => (S.timer ? stopAnim() : playAnim()) }, "pause");
  const methodPick = el("select", { id: "method", "aria-label": "interpolation" },
    el("option", { value: "lerp", text: "lerp (straight line)" }), el("option", { value: "slerp", text: "slerp (great circle)" }));
  methodPick.addEventListener("change", () => { S.method = methodPick.value; interpolate(); });
  const interpolateLatest = latestOnly(async () => {
    const [a, b] = S.pair.map((i) => S.cells[i]);
    if (!a || !b) return;
    await attempt(async () => {
      const body = { run: run.id, a: a.z, b: b.z, steps: S.steps, method: S.method };
      if (has("labels")) body.label = S.label ?? a.label ?? 0;
      const data = await api("/api/interpolate", body);
      S.frames = data.images;
      strip.replaceChildren(...data.images.map((src, i) => el("img", { src, alt: `step ${i}` })));
      if (!S.timer) playAnim();
    }, "interpolate");
  });
  function interpolate() { interpolateLatest(); }
  function playAnim() {
    let k = 0;
    stopAnim();
    playBtn.textContent = "pause";
    S.timer = setInterval(() => {
      if (!anim.isConnected) { stopAnim(); return; } // another run is shown now
      if (!S.frames.length) return;
      const n = S.frames.length;
      const i = k % (2 * n - 2 || 1);
      anim.src = S.frames[i < n ? i : 2 * n - 2 - i];
      k += 1;
    }, 90);
  }
  function stopAnim() { clearInterval(S.timer); S.timer = null; playBtn.textContent = "play"; }

  // ---------------------------------------------------------------- latent directions
  const walkImg = el("img", { id: "walk-img", class: "big", alt: "decoded walk" });
  const walkFrom = el("span", { class: "muted" });
  const sliders = el("div", { id: "sliders", class: "sliders" });
  const walkDecode = latestOnly(async () => {
    if (!S.walk) return;
    const z = S.walk.z.map((v, j) => v + S.dirs.reduce((acc, d, i) => acc + S.values[i] * d.scale * d.vector[j], 0));
    await attempt(async () => {
      const data = await api("/api/decode", decodeBody(z, S.walk.label));
      walkImg.src = data.images[0];
    }, "decode");
  });
  function setWalk(z, label, from) {
    S.walk = { z, label };
    S.values = S.dirs.map(() => 0);
    sliders.querySelectorAll("input").forEach((input) => { input.value = 0; input.dispatchEvent(new Event("input")); });
    walkFrom.textContent = `from ${from}`;
    walkDecode();
  }
  async function loadDirections() {
    await attempt(async () => {
      const data = await api("/api/directions", { run: run.id, k: 8 });
      S.dirs = data.directions;
      S.values = S.dirs.map(() => 0);
      sliders.replaceChildren(...S.dirs.map((d, i) => slider(d.name, { min: -3, max: 3, step: 0.05, value: 0,
        id: `dir-${i}`, format: (v) => `${Number(v).toFixed(2)}σ`, oninput: (v) => { S.values[i] = v; walkDecode(); } })));
      dirNote.textContent = { dimensions: "one slider per latent coordinate (±3σ of the encoded held-out images, or of the prior)",
        pca: "top principal directions of the encoded held-out images", ganspace:
        "top principal directions (GANSpace) of the generator's first-layer features over sampled latents" }[data.source]
        + (data.note ? ` — ${data.note}` : "");
    }, "directions");
  }
  const dirNote = el("p", { class: "muted" });

  // ---------------------------------------------------------------- vector arithmetic
  const slotEls = {};
  const result = el("img", { id: "arith-result", class: "big", alt: "A − B + C" });
  for (const name of ["A", "B", "C"]) {
    slotEls[name] = el("button", { type: "button", class: "slot", id: `slot-${name}`,
      onclick: () => { S.arm = name; status(`click a cell to put it in ${name}`); markSlots(); } },
    el("span", { text: name }), el("img", { alt: `slot ${name}` }));
  }
  // Grid clicks pick the interpolation's ends unless a slot is armed: the hint says which click comes next.
  const vectorHint = el("p", { class: "muted", id: "vector-hint" });
  function markSlots() {
    for (const [k, b] of Object.entries(slotEls)) b.classList.toggle("armed", S.arm === k);
    const { A, B, C } = S.slots;
    vectorHint.textContent = S.arm
      ? `Now click a cell of the grid for ${S.arm}${S.arm === "A" ? ", then one for B, then one for C" : ""}.`
      : A && B && C ? "decode(A − B + C) of the three cells; click A, B or C, then a cell, to change one."
        : "Click the A box below, then a cell of the grid for A, then one for B, then one for C: "
          + "the picture is decode(A − B + C).";
  }
  markSlots();
  function fillSlot(name, cell, i) {
    S.slots[name] = cell;
    slotEls[name].querySelector("img").src = cell.src;
    slotEls[name].title = `cell ${i}`;
    S.arm = { A: "B", B: "C", C: null }[name];
    markSlots();
    status(S.arm ? `click a cell to put it in ${S.arm}` : "");
    const { A, B, C } = S.slots;
    if (A && B && C) {
      attempt(async () => {
        const body = { run: run.id, a: A.z, b: B.z, c: C.z };
        if (has("labels")) body.label = S.label ?? C.label ?? 0;
        const data = await api("/api/vector", body);
        result.src = data.image;
      }, "vector arithmetic");
    }
  }

  // ---------------------------------------------------------------- uploads
  let uploadPanel = null;
  if (has("upload")) {
    const input = el("input", { type: "file", accept: "image/*", id: "upload", "aria-label": "upload an image" });
    const shown = el("img", { class: "big", alt: "your image as the model sees it" });
    const rec = el("img", { class: "big", alt: "reconstruction" });
    const info = el("p", { class: "muted" });
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (!file) return;
      if (file.size > 2 * 1024 * 1024) { status("the image is over 2 MB; pick a smaller one", true); return; }
      const reader = new FileReader();
      reader.onload = () => attempt(async () => {
        const body = { run: run.id, image: reader.result };
        if (has("labels")) body.label = S.label ?? 0;
        const data = await api("/api/reconstruct", body);
        shown.src = data.input;
        rec.src = data.image;
        info.textContent = `reconstruction MSE ${data.mse.toFixed(4)}; the sliders now start from its latent`;
        setWalk(data.z, data.label, "your image");
      }, "upload");
      reader.readAsDataURL(file);
    });
    uploadPanel = panel("Your image", input, el("div", { class: "row" },
      el("figure", {}, shown, el("figcaption", { text: "input" })), el("figure", {}, rec, el("figcaption", { text: "reconstruction" }))),
    info);
  }

  const left = el("div", { class: "col" },
    panel("Samples", el("div", { class: "controls" }, controls), grid, hint),
    panel("Vector arithmetic", vectorHint,
      el("div", { class: "row arith" }, slotEls.A, "−", slotEls.B, "+", slotEls.C, "=", result)),
    uploadPanel);
  const right = el("div", { class: "col" },
    panel("Interpolation", el("div", { class: "controls" }, methodPick,
      slider("steps", { min: 2, max: 64, step: 1, value: S.steps, id: "steps",
        oninput: (v) => { S.steps = v; interpolate(); } }), playBtn), el("div", { class: "row" }, anim, strip)),
    panel("Latent directions", el("div", { class: "row" }, walkImg, el("div", { class: "grow" }, walkFrom, sliders,
      el("button", { type: "button", onclick: () => S.walk && setWalk(S.walk.z, S.walk.label, "the same point") }, "reset"))),
    dirNote),
    has("map") ? mapPanel(run, { decodeBody, onPick: (z, label, what) => setWalk(z, label, what) }) : null);
  view.append(el("div", { class: "columns" }, left, right));
  loadDirections().then(loadGrid);
}

export { showGenerative as show };  // the name the run picker loads each family's view by
