(on) => {
  // Projector mode: larger type (page.css, on <html>) and chart text of at least 20 px. Every plot drawn while
  // it is on (the server's figures) is drawn with its fonts raised (``prepare``), one already on the page when it
  // is turned on gets them raised after (``scale``); turning it off puts each plot's own sizes back.
  const MIN = 20;
  const P = window.playgroundProjector = window.playgroundProjector || {on: false};
  P.on = !!on;
  document.documentElement.classList.toggle('projector', P.on);
  const size = (f) => (f && f.size) || null;
  function fonts(L) {  // relayout paths of every font in the layout ``L``: {path: its size now}
    const out = {'font.size': size(L.font) || 12};
    if (L.title) out['title.font.size'] = size(L.title.font) || (out['font.size'] * 1.4);
    Object.keys(L).filter((k) => /^[xy]axis\d*$/.test(k)).forEach((k) => {
      out[`${k}.tickfont.size`] = size(L[k].tickfont) || out['font.size'];
      if (L[k].title && L[k].title.text) out[`${k}.title.font.size`] = size(L[k].title.font) || out['font.size'];
    });
    (L.annotations || []).forEach((a, i) => { out[`annotations[${i}].font.size`] = size(a.font) || out['font.size']; });
    if (L.legend) out['legend.font.size'] = size(L.legend.font) || out['font.size'];
    return out;
  }
  function room(L, titleGrowth) {  // larger text needs larger margins (titles above, notes under, token labels left)
    const m = L.margin || {}, out = {};
    // the top margin holds the (often two-line) title above the panels' own titles: it grows with the title
    const grow = {t: Math.max(1.35, 1.15 * titleGrowth), b: 1.35, l: 1.3};
    let extra = 0;
    for (const [k, f] of Object.entries(grow)) {
      const v = m[k] === undefined ? 80 : m[k];
      out[`margin.${k}`] = Math.round(v * f);
      if (k !== 'l') extra += out[`margin.${k}`] - v;
    }
    if (L.height) out.height = L.height + extra;
    return out;
  }
  function plan(L, data) {  // what projector mode changes in a figure: {up: path -> size, now: its own, traces}, or null
    const now = fonts(L), up = {};
    for (const [k, v] of Object.entries(now)) if (v < MIN) up[k] = Math.max(MIN, Math.round(v * 1.5));
    if (!Object.keys(up).length) return null;
    const margins = room(L, up['title.font.size'] ? up['title.font.size'] / now['title.font.size'] : 1);
    for (const k of Object.keys(margins)) now[k] = (k === 'height' ? L.height : (L.margin || {})[k.slice(7)]) ?? null;
    Object.assign(up, margins);
    (L.annotations || []).forEach((a, i) => {  // a note placed px under the plot moves down as the text grows
      if (a.yshift < 0) { now[`annotations[${i}].yshift`] = a.yshift; up[`annotations[${i}].yshift`] = Math.round(a.yshift * 1.5); }
    });
    // bar labels ("28.2%"): raised too
    const traces = (data || []).map((t, i) => [i, t.textfont && t.textfont.size]).filter(([, s]) => s && s < MIN);
    return {up, now, traces};
  }
  function set(obj, path, value) {  // obj['annotations[3].font.size'] = value, making the objects on the way
    const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] = o[k] && typeof o[k] === 'object' ? o[k] : {};
    o[keys[keys.length - 1]] = value;
  }
  // A figure about to be drawn (static/pipeline.js calls this just before plotly.js draws it): drawn at projector
  // sizes at once, instead of drawn, then redrawn larger (each draw of the next-token chart is ~50 ms).
  P.prepare = (el, args) => {
    const [data, layout] = args;
    if (!P.on || !layout || !Array.isArray(data)) return;
    const p = plan(layout, data);
    if (!p) return;
    for (const [k, v] of Object.entries(p.up)) set(layout, k, v);
    p.traces.forEach(([i]) => { data[i].textfont = {...data[i].textfont, size: MIN}; });
    el.__projectorOrig = p.now;  // this figure's own sizes, for turning projector mode off
    el.__projectorText = p.traces;
  };
  function scale(gd) {  // a plot already drawn: its fonts raised (or put back) in one update
    if (!window.Plotly || !gd.layout || gd.__projectorBusy) return;
    if (P.on) {
      const p = plan(gd.layout, gd.data);
      if (!p) return;
      gd.__projectorOrig = p.now;
      gd.__projectorText = p.traces;
      gd.__projectorBusy = true;
      const idx = p.traces.map(([i]) => i);
      window.Plotly.update(gd, idx.length ? {'textfont.size': MIN} : {}, p.up, idx.length ? idx : undefined)
        .finally(() => { gd.__projectorBusy = false; });
    } else if (gd.__projectorOrig) {
      const back = gd.__projectorOrig;
      gd.__projectorOrig = null;
      const traces = gd.__projectorText || [];
      gd.__projectorBusy = true;
      window.Plotly.relayout(gd, back)
        .then(() => traces.forEach(([i, s]) => window.Plotly.restyle(gd, {'textfont.size': s}, [i])))
        .finally(() => { gd.__projectorBusy = false; });
    }
  }
  const hook = (gd) => {
    if (gd.__projectorHooked || !gd.on) return;
    gd.__projectorHooked = true;
    gd.on('plotly_afterplot', () => { if (P.on) setTimeout(() => scale(gd), 0); });
  };
  document.querySelectorAll('.js-plotly-plot').forEach((gd) => { hook(gd); scale(gd); });
  if (!P.observer) {  // plots created later (another tab, a redraw that builds a new plot)
    P.observer = new MutationObserver(() => {
      document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
        if (!gd.__projectorHooked) { hook(gd); if (P.on) setTimeout(() => scale(gd), 0); }
      });
    });
    P.observer.observe(document.body, {childList: true, subtree: true});
  }
  setTimeout(() => window.dispatchEvent(new Event('resize')), 50);
}
