(lang) => {
  // Gradio's own words (the footer's "Use via API", "Built with Gradio", "Settings"; "Loading"...) in the page's
  // language: Gradio's changeLocale, taken from the core module this page already loaded (found by its file name
  // among the page's resources; the same URL gives the same module instance). Where it is not found, nothing.
  const url = performance.getEntriesByType('resource').map((e) => e.name)
    .find((u) => /\/assets\/core-[\w-]+\.js$/.test(u));
  if (url) import(url).then((m) => m.changeLocale && m.changeLocale(lang === 'zh' ? 'zh-CN' : 'en')).catch(() => {});
}
