// Live next-token bars: while a sampling slider moves, the page redraws the stage bars of #next-plot itself,
// from the step's raw logits that the server put in the figure's layout.meta.live (generate.live_payload).
// run() is playground/sampling.py's run_pipeline ported line by line (repetition penalty -> temperature ->
// top-k -> top-p -> min-p, each stage's softmax; float32 rounding where torch rounds). The server stays the
// reference: on release it re-decides the token and sends the figure, which replaces this preview.
// Keys: Enter in a slider's number box applies it (blur = Gradio's release); arrow keys on a slider redraw
// as it moves and apply when the key is let go. Below: every plot of the page drawn once per figure, when shown.
if (!window.playgroundPipeline) {
  const f32 = Math.fround;
  const NEG = -Infinity;

  function softmax(x) {  // (V,) like torch.softmax: exp(x - max) / sum; -inf -> 0
    let m = NEG;
    for (const v of x) if (v > m) m = v;
    const e = x.map((v) => Math.exp(v - m));
    let s = 0;
    for (const v of e) s += v;
    return e.map((v) => v / s);
  }

  function run(logits, seen, p) {
    // logits: (V,) raw scores; seen: every id so far (prompt included); p: {repetition_penalty, temperature,
    // top_k, top_p, min_p}. Returns the six stages [{name, logits, probs, removed}] of sampling.STAGES.
    const V = logits.length;
    const stages = [];
    const stage = (name, x, before, remove) => {
      if (remove) x = x.map((v, i) => (remove[i] ? NEG : v));
      const removed = x.map((v, i) => before !== null && v === NEG && before[i] !== NEG);  // newly -inf here
      stages.push({name, logits: x, probs: softmax(x), removed});
      return x;
    };
    const none = () => new Array(V).fill(false);
    const raw = stage("raw", Array.from(logits, f32), null);

    let x = raw;  // repetition penalty: every distinct seen id once; a negative score is multiplied
    const pen = f32(p.repetition_penalty);
    if (p.repetition_penalty !== 1 && seen.length) {
      x = raw.slice();
      for (const i of new Set(seen)) x[i] = raw[i] < 0 ? f32(raw[i] * pen) : f32(raw[i] / pen);
    }
    x = stage("repetition_penalty", x, raw);

    const t = p.temperature;  // 0 = greedy and 1 = off: no scaling
    const scaled = t === 0 || t === 1 ? x : x.map((v) => f32(v / f32(t)));
    x = stage("temperature", scaled, x);

    let remove = none();  // top-k: below the k-th largest (k capped at V); ties at the cut all kept
    if (p.top_k > 0) {
      const kth = x.slice().sort((a, b) => b - a)[Math.min(p.top_k, V) - 1];
      remove = x.map((v) => v < kth);
    }
    x = stage("top_k", x, x, remove);

    remove = none();  // top-p: ascending; remove while the running sum stays <= 1 - p, never the top token
    if (p.top_p < 1) {
      const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b] || a - b);  // stable, as torch's CPU sort
      const probs = softmax(order.map((i) => x[i]));
      const limit = f32(1 - p.top_p);
      let cum = 0;
      order.forEach((i, j) => {
        cum = f32(cum + f32(probs[j]));
        remove[i] = cum <= limit && j < V - 1;
      });
    }
    x = stage("top_p", x, x, remove);

    remove = none();  // min-p: less likely than min_p x the top probability; the top token always kept
    if (p.min_p > 0) {
      const probs = softmax(x).map(f32);
      let top = 0;
      probs.forEach((q, i) => { if (q > probs[top]) top = i; });
      const limit = f32(f32(p.min_p) * probs[top]);
      remove = probs.map((q, i) => q < limit && i !== top);
    }
    stage("min_p", x, x, remove);
    return stages;
  }

  function decode(b64) {  // base64 little-endian float32 -> Float32Array
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }

  const pct = (q, d) => (q * 100).toFixed(d) + "%";
  const shown = (q) => (q >= 0.001 ? pct(q, 1) : q >= 0.0001 ? pct(q, 2) : "<0.01%");
  const count = (n) => n.toLocaleString("en-US");

  function sliderValue(id) {
    const el = document.querySelector(`#${id} input[type=range]`);
    return el ? Number(el.value) : NaN;
  }

  function params(live) {  // the knobs' current values, by stage name
    const p = {};
    for (const [stage, [id]] of Object.entries(live.knobs)) p[stage] = sliderValue(id);
    return {repetition_penalty: p.repetition_penalty, temperature: p.temperature, top_k: Math.round(p.top_k),
            top_p: p.top_p, min_p: p.min_p};
  }

  function isOff(live, stage, value) {  // figures.next_token.is_off
    const knob = live.knobs[stage];
    return knob !== undefined && (stage === "top_p" ? value >= knob[1] : value === knob[1]);
  }

  function redraw(gd) {
    // the stage bars of the figure ``gd`` for the sliders' current values (same rows, same panels)
    const live = gd && gd.layout && gd.layout.meta && gd.layout.meta.live;
    if (!live || !window.Plotly) return false;
    const strategy = document.querySelector("#strategy input:checked");
    if (strategy && strategy.value === "beam") return false;
    live.raw = live.raw || decode(live.logits);
    const p = params(live);
    if (Object.values(p).some(Number.isNaN)) return false;
    const stages = run(live.raw, live.seen, p);
    const probs = live.mode === "probs";
    const vals = stages.map((s) => live.rows.map((i) => (probs ? s.probs[i] : s.logits[i])));
    const gone = stages.map((s) => live.rows.map((i) => s.logits[i] === NEG));
    const alive = [].concat(...vals.map((row, s) => row.filter((_, j) => !gone[s][j])));
    let lo = 0, hi = 1;  // figures.next_token_stages' axis range
    if (probs) {
      hi = alive.length ? Math.min(1, Math.max(...alive)) * 1.4 : 1;
    } else if (alive.length) {
      lo = Math.min(0, ...alive);
      hi = Math.max(0, ...alive);
      const span = hi - lo || 1;
      lo -= lo < 0 ? 0.05 * span : 0;
      hi += 0.45 * span;
    }
    const stub = 0.05 * (hi - lo);
    const data = {x: [], text: [], "marker.color": [], "marker.pattern.shape": [], base: []};
    const layout = {};
    stages.forEach((s, i) => {
      const g = gone[i];
      data.x.push(vals[i].map((v, j) => (g[j] ? stub : v)));
      data.text.push(vals[i].map((v, j) => (g[j] ? live.text.removed : probs ? shown(v) : v.toFixed(2))));
      data["marker.color"].push(g.map((r, j) => (r ? live.colours.removed
        : j === live.chosen ? live.colours.chosen : live.colours.kept)));
      data["marker.pattern.shape"].push(g.map((r) => (r ? "/" : "")));
      data.base.push(probs ? null : g.map((r) => (r ? lo : 0)));
      layout[i === 0 ? "xaxis.range" : `xaxis${i + 1}.range`] = [lo, hi];
      const name = isOff(live, s.name, p[s.name]) ? live.off[i] : live.names[i];
      const n = s.removed.filter(Boolean).length;
      layout[`annotations[${live.titles[i]}].text`] = `<b>${n ? `${name} −${count(n)}` : name}</b>`;
      if (live.mores.length) {
        const kept = s.logits.filter((v) => v !== NEG).length;
        const rowsAlive = g.filter((r) => !r).length;
        let more = live.text.more.replace("{n}", count(Math.max(0, kept - rowsAlive)));
        if (live.rest_mass) {
          const mass = s.probs.reduce((acc, q) => acc + q, 0) - live.rows.reduce((acc, r, j) => acc + (g[j] ? 0 : s.probs[r]), 0);
          more += "<br>" + pct(Math.max(0, mass), 1);
        }
        layout[`annotations[${live.mores[i]}].text`] = more;
      }
    });
    if (probs) delete data.base;
    if (!(probs && inPlace(gd, data, layout, hi))) window.Plotly.update(gd, data, layout, stages.map((_, i) => i));
    return true;
  }

  // A frame without plotly.js: each bar's path, its number and the panels' notes rewritten in place, and the
  // figure's data set to match (Plotly.update of this six-panel figure took ~50 ms of a 2-core machine's frame;
  // this, ~4 ms: benchmarks/browser_speed.py). Only while nothing but bars and words moves: the axes keep their range as long as the longest
  // bar fits (else, or when the bars would shrink to under half of it, Plotly redraws with a new range) and every
  // note keeps its number of lines. A removed bar is grey without its hatching until the server's figure, which
  // replaces this preview on release. Returns false, having changed nothing, where it cannot.
  function inPlace(gd, data, layout, hi) {
    const full = gd._fullLayout, traces = {};
    if (!full || !gd.calcdata) return false;
    for (const el of gd.querySelectorAll(".barlayer .trace.bars")) {  // by trace: each subplot has its own layer
      const cd = el.__data__;
      if (cd && cd[0] && cd[0].trace) traces[cd[0].trace.index] = el;
    }
    const bars = [], notes = [], axis = (id) => full[id.replace(/^([xy])/, "$1axis")];  // "x2" -> xaxis2
    for (let i = 0; i < data.x.length; i++) {
      const fd = gd._fullData[i], cd = gd.calcdata[i];
      const xa = fd && axis(fd.xaxis), ya = fd && axis(fd.yaxis);  // panels in rows (panels.js): a y axis a row
      const points = traces[i] ? traces[i].querySelectorAll(".point") : [];
      if (!xa || !cd || !ya || points.length !== cd.length || cd.length !== data.x[i].length) return false;
      if (hi > xa.range[1] * 1.3 || hi < xa.range[1] * 0.5 || xa.range[0] !== 0) return false;
      for (let j = 0; j < cd.length; j++) {
        const path = points[j].querySelector("path");
        if (!path || cd[j].p0 === undefined) return false;
        const text = points[j].querySelector("text.bartext");  // none where plotly.js found no room for it
        if (!text && !gd.querySelector("text.bartext")) return false;
        bars.push({xa, path, text, point: points[j], y0: ya.c2p(cd[j].p0), y1: ya.c2p(cd[j].p1), x: data.x[i][j],
                   label: data.text[i][j], colour: data["marker.color"][i][j], stub: data["marker.pattern.shape"][i][j]});
      }
    }
    for (const [key, value] of Object.entries(layout)) {
      const k = /^annotations\[(\d+)\]\.text$/.exec(key);
      if (!k) continue;
      const el = gd.querySelector(`.annotation[data-index="${k[1]}"] text.annotation-text`);
      const lines = value.split("<br>").map((x) => x.replace(/<\/?b>/g, ""));
      const spans = el ? el.querySelectorAll("tspan.line") : [];
      if (!el || Math.max(1, spans.length) !== lines.length) return false;
      notes.push({index: Number(k[1]), el, spans, lines, value, bold: value.startsWith("<b>")});
    }
    const sample = gd.querySelector("text.bartext");
    const charPx = 0.6 * (parseFloat(sample && sample.style.fontSize) || 14);  // ~ a character of the numbers
    for (const b of bars) {  // the stub of a removed token: 5 % of the axis, as the server draws it
      const x = b.stub ? 0.05 * b.xa.range[1] : b.x, x0 = b.xa.c2p(0), x1 = b.xa.c2p(x);
      b.path.setAttribute("d", `M${x0},${b.y0}V${b.y1}H${x1}V${b.y0}Z`);
      b.path.style.fill = b.colour;
      const width = b.label.length * charPx, outside = x1 + 4 + width <= b.xa._length || x1 < width + 8;
      if (!b.text) b.text = b.point.appendChild(gd.querySelector("text.bartext").cloneNode(false));  // one like the others
      b.text.removeAttribute("transform");
      b.text.setAttribute("x", outside ? x1 + 4 : x1 - 4);
      b.text.setAttribute("y", (b.y0 + b.y1) / 2 + charPx * 0.6);
      b.text.setAttribute("text-anchor", outside ? "start" : "end");
      b.text.style.fill = outside ? "#444" : "#fff";
      b.text.textContent = b.label;
    }
    for (const n of notes) {
      const targets = n.spans.length ? [...n.spans] : [n.el];
      targets.forEach((el, j) => { el.textContent = n.lines[j]; if (n.bold) el.style.fontWeight = "bold"; });
      gd.layout.annotations[n.index].text = n.value;
      if (full.annotations && full.annotations[n.index]) full.annotations[n.index].text = n.value;
    }
    // the figure's data says what is drawn (the next update diffs against it; tests read it); hover keeps the last
    // full draw's values until the server's figure comes on release
    data.x.forEach((x, i) => {
      for (const d of [gd.data[i], gd._fullData[i]]) {
        d.x = x;
        d.text = data.text[i];
        d.marker.color = data["marker.color"][i];
      }
    });
    return true;
  }

  let pending = false;
  const nextPlot = () => document.querySelector("#next-plot .js-plotly-plot");
  const knobOf = (target) => {
    const live = nextPlot() && nextPlot().layout && nextPlot().layout.meta && nextPlot().layout.meta.live;
    return live && Object.values(live.knobs).some(([id]) => target.closest(`#${id}`));
  };
  document.addEventListener("input", (e) => {
    if (!(e.target instanceof HTMLInputElement) || !knobOf(e.target) || pending) return;
    pending = true;  // one redraw per frame however fast the events come
    requestAnimationFrame(() => { pending = false; redraw(nextPlot()); });
  }, true);
  const slider = (el) => el instanceof HTMLInputElement && el.closest(".block") &&
    el.closest(".block").querySelector("input[type=range]");
  document.addEventListener("keydown", (e) => {  // Enter in a slider's number box applies the value
    if (e.key === "Enter" && e.target.type === "number" && slider(e.target)) e.target.blur();
  }, true);
  const MOVES = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"];
  document.addEventListener("keyup", (e) => {  // a key moved a slider: apply it, as letting go of the handle
    if (MOVES.includes(e.key) && e.target.type === "range" && slider(e.target)) {
      e.target.dispatchEvent(new PointerEvent("pointerup", {bubbles: true}));
    }
  }, true);

  window.playgroundPipeline = {run, redraw, decode};
}

// One draw per figure, and none in hidden tabs (benchmarks/browser_speed.py counts them). Gradio's plot component
//  * re-mounts for every new figure (a {#key} block) after its old instance has already drawn that figure into
//    the div being thrown away: two full draws per figure;
//  * draws every figure a Step sends, also those of tabs not on screen (once visited, a tab's plots stay mounted,
//    hidden): a Step drew all five of the page's session plots;
//  * calls Plotly.Plots.resize after each draw, which waits 100 ms and draws the whole figure again with
//    autosize on, although its size has not changed.
// So a figure is drawn once, after the current update (a microtask): not at all into a div that left the page,
// and, in a hidden tab, when the tab is shown (a ResizeObserver sees the div get a size). Resize does its work
// only when the plot no longer spans its container (a window that changed size).
if (!window.playgroundPlots) {
  const shown = (el) => el.isConnected && el.clientWidth > 0 && el.getClientRects().length > 0;
  const sizes = new ResizeObserver((entries) => {
    for (const {target} of entries) if (target.playgroundFigure && shown(target)) window.playgroundPlots.draw(target);
  });
  window.playgroundPlots = {
    draw(el) {  // the div's newest figure, if it still has one to draw
      const figure = el.playgroundFigure;
      if (!figure) return;
      el.playgroundFigure = null;
      sizes.unobserve(el);
      const projector = window.playgroundProjector;  // projector mode's sizes, in the same draw (static/projector.js)
      if (projector && projector.prepare) projector.prepare(el, figure.args);
      figure.react.apply(figure.plotly, [el, ...figure.args]).then(figure.resolve, figure.reject);
    },
    patch(P) {
      if (!P || !P.Plots || P.react.playground) return;
      const react = P.react;
      const resize = P.Plots.resize;
      P.react = function (gd, ...args) {
        const el = typeof gd === "string" ? document.getElementById(gd) : gd;
        if (!(el instanceof HTMLElement)) return react.call(this, gd, ...args);
        if (el.playgroundFigure) el.playgroundFigure.resolve(el);  // replaced by a newer figure before it was drawn
        return new Promise((resolve, reject) => {
          el.playgroundFigure = {plotly: this, react, args, resolve, reject};
          queueMicrotask(() => {
            if (!el.isConnected) {
              el.playgroundFigure = null;
              resolve(el);
            } else if (shown(el)) {
              window.playgroundPlots.draw(el);
            } else {
              sizes.observe(el);
            }
          });
        });
      };
      P.react.playground = true;
      P.Plots.resize = function (gd) {
        const el = typeof gd === "string" ? document.getElementById(gd) : gd;
        if (el && (el.playgroundFigure || !shown(el))) return Promise.resolve(el);  // drawn later, at its size
        const full = el && el._fullLayout;
        if (full && Math.abs(el.clientWidth - full.width) < 1 && el.layout && el.layout.height) {
          return Promise.resolve(el);
        }
        return resize.apply(this, arguments);
      };
    },
  };
  if (window.Plotly) {
    window.playgroundPlots.patch(window.Plotly);
  } else {  // plotly.js arrives with the first plot: patch it as it lands on window
    let plotly;
    Object.defineProperty(window, "Plotly", {configurable: true, enumerable: true, get: () => plotly,
      set: (value) => { plotly = value; window.playgroundPlots.patch(value); }});
  }
}
