// The "Inside the model" tab follows the step the page shows. The status line changes on every Step, Back and step
// pick (a js-only change event: no server call); if the tab is on screen, its Draw button is pressed once the
// update has landed (the step slider, read by the draw, changes in the same update). With the tab closed: nothing.
if (!window.playgroundFollow) {
  let timer = null;
  window.playgroundFollow = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const button = document.querySelector("#inside_btn");
      if (button && button.offsetParent !== null && button.getClientRects().length) button.click();
    }, 0);
  };
}
