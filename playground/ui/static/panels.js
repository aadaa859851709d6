// The next-token chart's six stage panels side by side need ~150 px each. Where they get less, they are arranged
// in rows instead, each row with its own token labels: on a phone (a narrow screen) one panel a row; in projector
// mode (20 px text) when a panel would be narrower than its title, three a row. Applied after every draw of
// #next-plot (a new figure from the server comes side by side); the live slider redraw (pipeline.js) only changes
// bars and texts.
if (!window.__playgroundPanels) {
  window.__playgroundPanels = true;
  const NARROW = 700;  // px of window: a phone
  const MIN_PANEL = 150;  // px of panel in projector mode
  const axisNo = (k) => Number(k.replace(/^[xy]axis/, '') || 1);
  function columns(gd) {  // panels a row this plot needs now (0: leave it side by side)
    if (window.innerWidth < NARROW) return 1;
    const projector = window.playgroundProjector && window.playgroundProjector.on;
    const x = gd._fullLayout && gd._fullLayout.xaxis;
    return projector && x && x._length < MIN_PANEL ? 3 : 0;
  }
  function arrange(gd) {
    const L = gd.layout;
    const cols = columns(gd);
    if (!window.Plotly || !L || L.yaxis2 || !L.yaxis || !cols || gd.__arranging) return;
    const Y = gd._fullLayout && gd._fullLayout.yaxis;  // decoded (the figure's arrays may come as typed data)
    const ticks = Y && Y.tickvals ? Array.from(Y.tickvals) : [];
    if (!ticks.length) return;
    const xs = Object.keys(L).filter((k) => /^xaxis\d*$/.test(k)).sort((a, b) => axisNo(a) - axisNo(b));
    const n = xs.length;
    if (n < 2) return;
    const rows = Math.ceil(n / cols), big = cols > 1;  // projector: larger bars and room for two-line titles
    // in projector mode the figure keeps its margins (projector.js sizes them for its larger title and notes)
    const margin = L.margin || {}, top = big ? margin.t || 115 : 120, bottom = big ? margin.b || 100 : 80;
    const B = ticks.length * (big ? 32 : 21), G = big ? 90 : 64;
    const P = rows * B + (rows - 1) * G, gap = 0.03, w = (1 - gap * (cols - 1)) / cols;
    const up = {height: top + bottom + P, 'margin.r': 16};
    if (!big) Object.assign(up, {'margin.t': top, 'margin.b': bottom, 'margin.l': 100});
    const spans = [];  // [x0, x1, y0, y1] in paper coordinates, by panel
    xs.forEach((k, i) => {
      const r = Math.floor(i / cols), c = i % cols;
      const hi = 1 - (r * (B + G)) / P, lo = Math.max(0, hi - B / P);
      spans.push([c * (w + gap), c * (w + gap) + w, lo, hi]);
      up[`${k}.domain`] = [spans[i][0], spans[i][1]];
      up[`${k}.anchor`] = r ? `y${r + 1}` : 'y';
    });
    for (let r = 0; r < rows; r++) {  // one y axis a row, its token labels at the left
      const [, , lo, hi] = spans[r * cols];
      if (r) {
        up[`yaxis${r + 1}`] = {domain: [lo, hi], anchor: 'x', tickmode: 'array', tickvals: ticks,
                               ticktext: Array.from(Y.ticktext || []), autorange: 'reversed', showgrid: false,
                               zeroline: false, tickfont: L.yaxis.tickfont};
      } else {
        up['yaxis.domain'] = [lo, hi];
      }
    }
    let t = 0, m = 0;
    (L.annotations || []).forEach((a, j) => {
      if (a.yref !== 'paper') return;
      if (a.y === 1 && a.yanchor === 'bottom' && t < n) {  // a panel's title: above its panel
        const [x0, x1, , hi] = spans[t++];
        up[`annotations[${j}].x`] = (x0 + x1) / 2; up[`annotations[${j}].y`] = hi;
      } else if (a.y === 0 && a.yanchor === 'top' && m < n) {  // "+ N more": in its panel's empty lower right
        const [, x1, lo] = spans[m++];
        up[`annotations[${j}].x`] = x1; up[`annotations[${j}].xanchor`] = 'right';
        up[`annotations[${j}].yanchor`] = 'bottom'; up[`annotations[${j}].yshift`] = 0;
        up[`annotations[${j}].y`] = lo;
      } else if (a.y === 0 && a.yanchor === 'top') {  // the colours' key: under the last row
        up[`annotations[${j}].yshift`] = -8;
      }
    });
    gd.__arranging = true;  // the layout and each panel's y axis in one update: one redraw
    window.Plotly.update(gd, {yaxis: xs.map((_, i) => { const r = Math.floor(i / cols); return r ? `y${r + 1}` : 'y'; })},
                         up, xs.map((_, i) => i)).finally(() => { gd.__arranging = false; });
  }
  const hook = (gd) => {
    if (gd.__panelsHooked || !gd.on) return;
    gd.__panelsHooked = true;
    gd.on('plotly_afterplot', () => setTimeout(() => arrange(gd), 0));
    arrange(gd);
  };
  new MutationObserver(() => document.querySelectorAll('#next-plot .js-plotly-plot').forEach(hook))
    .observe(document.body, {childList: true, subtree: true});
  window.playgroundArrange = arrange;
}
