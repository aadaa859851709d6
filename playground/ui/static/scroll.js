() => {
  // after a lesson click: bring the view it opened to the top of the screen, once it is redrawn (chips.js)
  if (window.playgroundReveal) window.playgroundReveal('#views');
}
