(q) => {
  const url = window.location.origin + window.location.pathname + (q ? '?' + q : '');
  try { window.history.replaceState(null, '', url); } catch (e) {}
  try { navigator.clipboard && navigator.clipboard.writeText(url).catch(() => {}); } catch (e) {}
  return url;
}