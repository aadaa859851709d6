(on) => {
  // Projector mode: larger type (page.css, on <html>) and chart text of at least 20 px. Every plot drawn while
  // it is on (the server's figures, a live redraw) gets its fonts raised after it is drawn; turning it off puts
  // each plot's own sizes back.
  const MIN = 20;
  const P = window.playgroundProjector = window.playgroundProjector || {on: false};
  P.on = !!on;
  document.documentElement.classList.toggle('projector', P.on);
  const size = (f) => (f && f.size) || null;
  function fonts(gd) {  // relayout paths of every font in the layout: {path: its size now}
    const L = gd.layout || {};
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
  function room(gd, titleGrowth) {  // larger text needs larger margins (titles above, notes under, token labels left)
    const L = gd.layout, m = L.margin || {}, out = {};
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
  function scale(gd) {
    if (!window.Plotly || !gd.layout || gd.__projectorBusy) return;
    const now = fonts(gd);
    if (P.on) {
      const up = {};
      for (const [k, v] of Object.entries(now)) if (v < MIN) up[k] = Math.max(MIN, Math.round(v * 1.5));
      if (!Object.keys(up).length) return;
      const margins = room(gd, up['title.font.size'] ? up['title.font.size'] / now['title.font.size'] : 1);
      const L = gd.layout;
      for (const k of Object.keys(margins)) now[k] = (k === 'height' ? L.height : (L.margin || {})[k.slice(7)]) ?? null;
      Object.assign(up, margins);
      (L.annotations || []).forEach((a, i) => {  // a note placed px under the plot moves down as the text grows
        if (a.yshift < 0) { now[`annotations[${i}].yshift`] = a.yshift; up[`annotations[${i}].yshift`] = Math.round(a.yshift * 1.5); }
      });
      gd.__projectorOrig = now;  // this figure's own sizes (a new figure from the server brings its own)
      gd.__projectorBusy = true;
      const traces = (gd.data || []).map((t, i) => [i, t.textfont && t.textfont.size]).filter(([, s]) => s && s < MIN);
      gd.__projectorText = traces;  // bar labels ("28.2%"): raised too
      window.Plotly.relayout(gd, up)
        .then(() => traces.length && window.Plotly.restyle(gd, {'textfont.size': MIN}, traces.map(([i]) => i)))
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
