(on) => {
  document.documentElement.classList.toggle('projector', !!on);
  setTimeout(() => window.dispatchEvent(new Event('resize')), 50);
}