// Char-RNN runs: a prime, temperature and top-k, and the generated text streamed as the server writes it
// (NDJSON lines read from the response body as they arrive).
import { api, attempt, el, panel, slider, status } from "./util.js";

export function showCharRNN(view, run) {
  const S = { temperature: 0.8, length: 600, controller: null };
  const prime = el("input", { type: "text", id: "prime", value: run.example_prime, maxlength: 500, "aria-label": "prime" });
  const topK = el("input", { type: "number", id: "top-k", min: 0, value: 0, "aria-label": "top-k (0: off)" });
  const seed = el("input", { type: "number", id: "seed", min: 0, value: 0, "aria-label": "seed" });
  const output = el("pre", { id: "generated", class: "generated" });
  const info = el("p", { class: "muted" });
  const go = el("button", { type: "button", id: "generate", onclick: () => generate() }, "generate");
  const stop = el("button", { type: "button", id: "stop", disabled: true, onclick: () => S.controller && S.controller.abort() }, "stop");

  async function generate() {
    if (S.controller) S.controller.abort();
    const controller = new AbortController();
    S.controller = controller;
    go.disabled = true;
    stop.disabled = false;
    output.replaceChildren(el("span", { class: "prime", text: prime.value }));
    info.textContent = "generating…";
    const body = { run: run.id, prime: prime.value, length: S.length, temperature: S.temperature,
      seed: Math.max(0, Number(seed.value) || 0) };
    if (Number(topK.value) > 0) body.top_k = Number(topK.value);
    await attempt(async () => {
      const res = await api("/api/charrnn/generate", body, { raw: true, signal: controller.signal });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!output.isConnected) { controller.abort(); break; } // another run is shown now
        buffer += decoder.decode(value, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop();
        for (const line of lines) {
          if (!line.trim()) continue;
          const msg = JSON.parse(line);
          if (msg.text !== undefined) output.append(msg.text);
          if (msg.done) info.textContent = `${msg.chars} characters in ${msg.seconds} s`;
        }
      }
    }, "generate");
    if (controller.signal.aborted) { info.textContent = "stopped"; status("stopped"); }
    if (S.controller === controller) S.controller = null;
    go.disabled = false;
    stop.disabled = true;
  }

  prime.addEventListener("keydown", (event) => { if (event.key === "Enter") generate(); });
  view.append(panel(`Generate text (${run.kind}, ${run.vocab_size} characters)`,
    el("div", { class: "controls" },
      el("label", {}, "prime ", prime),
      slider("temperature", { min: 0, max: 2, step: 0.05, value: S.temperature, id: "temperature",
        oninput: (v) => { S.temperature = v; }, format: (v) => Number(v).toFixed(2) }),
      el("label", {}, "top-k ", topK),
      slider("length", { min: 50, max: 2000, step: 50, value: S.length, id: "length", oninput: (v) => { S.length = v; } }),
      el("label", {}, "seed ", seed), go, stop),
    el("p", { class: "muted", text: "Temperature 0 picks the most likely character every time; top-k keeps only the "
      + "k most likely (0: all). The text appears as the model writes it." }),
    output, info));
  generate();
}

export { showCharRNN as show };  // the name the run picker loads each family's view by
