element.addEventListener('click', (e) => {
  const chip = e.target.closest('[data-step]');
  if (chip) trigger('pick_step', {step: Number(chip.dataset.step)});
});
if (!window.__playgroundOverview) {
  window.__playgroundOverview = true;
  document.addEventListener('mousedown', (e) => {
    const gd = e.target.closest && e.target.closest('#attn-overview .js-plotly-plot');
    if (!gd || !gd._hoverdata || !gd._hoverdata.length) return;
    const cd = gd._hoverdata[0].customdata;
    if (cd && cd.length === 2) trigger('pick_head', {layer: Number(cd[0]), head: Number(cd[1])});
  }, true);
}
