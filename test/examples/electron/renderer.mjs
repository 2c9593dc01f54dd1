// renderer.mjs: the page's script, bundled (index.html has <div id="taint"></div>)
import { mountTaintPanel, TAINT_PANEL_CSS } from 'kernel-taint/panel';

const style = document.createElement('style');
style.textContent = TAINT_PANEL_CSS;
document.head.append(style);

const panel = mountTaintPanel(document.getElementById('taint'), {
  initial: await window.kernelTaint.snapshot(),
  subscribe: (handlers) =>
    window.kernelTaint.onUpdate((change, snapshot) => {
      if (change) handlers.change(change);
      handlers.snapshot(snapshot);
    }),
});
window.addEventListener('beforeunload', () => panel.destroy());
