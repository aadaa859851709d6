// A phone (a narrow screen): the next-token chart's stage panels are stacked, one under the other, each with its
// own token labels, instead of six columns too narrow to read. Applied after every draw of #next-plot (a new
// figure from the server comes side by side); the live slider redraw (pipeline.js) only changes bars and texts.
if (!window.__playgroundPhone) {
  window.__playgroundPhone = true;
  const NARROW = 700;
  const axisNo = (k) => Number(k.replace(/^[xy]axis/, '') || 1);
  function stack(gd) {
    const L = gd.layout;
    if (!window.Plotly || !L || L.yaxis2 || !L.yaxis || window.innerWidth >= NARROW) return;
    const Y = gd._fullLayout && gd._fullLayout.yaxis;  // decoded (the figure's arrays may come as typed data)
    const ticks = Y && Y.tickvals ? Array.from(Y.tickvals) : [];
    if (!ticks.length) return;
    const xs = Object.keys(L).filter((k) => /^xaxis\d*$/.test(k)).sort((a, b) => axisNo(a) - axisNo(b));
    const n = xs.length;
    if (n < 2) return;
    const B = ticks.length * 21, G = 64, top = 120, bottom = 80;  // px: bars, gap, margins
    const P = n * B + (n - 1) * G;
    const up = {height: top + bottom + P, 'margin.t': top, 'margin.b': bottom, 'margin.l': 100, 'margin.r': 16};
    const tops = [];
    xs.forEach((k, i) => {
      const hi = 1 - (i * (B + G)) / P, lo = Math.max(0, hi - B / P);
      tops.push([lo, hi]);
      const y = i ? `yaxis${i + 1}` : 'yaxis';
      up[`${k}.domain`] = [0, 1];
      up[`${k}.anchor`] = i ? `y${i + 1}` : 'y';
      if (i) {
        up[y] = {domain: [lo, hi], anchor: `x${i + 1}`, tickmode: 'array', tickvals: ticks,
                 ticktext: Array.from(Y.ticktext || []), autorange: 'reversed', showgrid: false, zeroline: false,
                 tickfont: L.yaxis.tickfont};
      } else {
        up['yaxis.domain'] = [lo, hi];
      }
    });
    let t = 0, m = 0;
    (L.annotations || []).forEach((a, j) => {
      if (a.yref !== 'paper') return;
      if (a.y === 1 && a.yanchor === 'bottom' && t < n) {  // a panel's title: above its panel
        up[`annotations[${j}].x`] = 0.5; up[`annotations[${j}].y`] = tops[t++][1];
      } else if (a.y === 0 && a.yanchor === 'top' && m < n) {  // "+ N more": in its panel's empty lower right
        up[`annotations[${j}].x`] = 1; up[`annotations[${j}].xanchor`] = 'right';
        up[`annotations[${j}].yanchor`] = 'bottom'; up[`annotations[${j}].yshift`] = 0;
        up[`annotations[${j}].y`] = tops[m++][0];
      }
    });
    window.Plotly.relayout(gd, up).then(() => window.Plotly.restyle(
      gd, {yaxis: xs.map((_, i) => (i ? `y${i + 1}` : 'y'))}, xs.map((_, i) => i)));
  }
  const hook = (gd) => {
    if (gd.__phoneHooked || !gd.on) return;
    gd.__phoneHooked = true;
    gd.on('plotly_afterplot', () => setTimeout(() => stack(gd), 0));
    stack(gd);
  };
  new MutationObserver(() => document.querySelectorAll('#next-plot .js-plotly-plot').forEach(hook))
    .observe(document.body, {childList: true, subtree: true});
  window.playgroundStack = stack;
}
