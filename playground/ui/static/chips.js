// A click on a generated token chip inspects that step; a click on an overview tile opens that head. Either
// scrolls to what it changed (the views, the head's heatmap).
// Bring ``sel`` to the top of the screen now, and again once the server's answer has redrawn it (a redraw
// that lands during a smooth scroll would stop it half way); at most 4 s, once.
const reveal = window.playgroundReveal = (sel) => {
  const el = document.querySelector(sel);
  if (!el) return;
  let timer = null;
  const place = () => el.scrollIntoView({block: 'start'});
  const obs = new MutationObserver(() => {  // once the redraw has settled: place it, then let the page be
    clearTimeout(timer);
    timer = setTimeout(() => { obs.disconnect(); place(); }, 150);
  });
  obs.observe(el, {childList: true, subtree: true, characterData: true});
  setTimeout(() => obs.disconnect(), 4000);
  el.scrollIntoView({behavior: 'smooth', block: 'start'});
};

element.addEventListener('click', (e) => {
  const chip = e.target.closest('[data-step]');
  if (chip) { trigger('pick_step', {step: Number(chip.dataset.step)}); reveal('#views'); }
});
if (!window.__playgroundOverview) {
  window.__playgroundOverview = true;
  document.addEventListener('mousedown', (e) => {
    const gd = e.target.closest && e.target.closest('#attn-overview .js-plotly-plot');
    if (!gd || !gd._hoverdata || !gd._hoverdata.length) return;
    const cd = gd._hoverdata[0].customdata;
    if (cd && cd.length === 2) { trigger('pick_head', {layer: Number(cd[0]), head: Number(cd[1])}); reveal('#attn-heatmap'); }
  }, true);
  // the step slider (under the views) picks a step: show the views it redrew
  document.addEventListener('pointerup', (e) => {
    if (e.target.closest && e.target.closest('#view_step input[type=range]')) reveal('#views');
  }, true);
  // a phone: the settings sidebar would cover the page, so it starts closed (its toggle opens it)
  // (Gradio may open it after this script runs: watched for up to 10 s after load, closed once)
  if (window.innerWidth < 700) {
    let tries = 0;
    const timer = setInterval(() => {
      const bar = document.querySelector('#settings');
      const open = bar && (bar.classList.contains('open') || bar.closest('.sidebar.open'));
      const toggle = document.querySelector('.sidebar .toggle-button, #settings .toggle-button');
      if (open && toggle) {
        toggle.click();
        clearInterval(timer);
      } else if (++tries >= 50) {
        clearInterval(timer);
      }
    }, 200);
  }
}
