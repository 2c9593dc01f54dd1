// preload.cjs: context-isolated and sandboxed, so no require('kernel-taint') here: ask the main process
const { contextBridge, ipcRenderer } = require('electron');

contextBridge.exposeInMainWorld('kernelTaint', {
  snapshot: () => ipcRenderer.invoke('kernel-taint:snapshot'),
  // Calls back with (change, snapshot), or (null, snapshot) for a state-only update; returns an unsubscribe.
  onUpdate(callback) {
    const onChange = (_event, change, snapshot) => callback(change, snapshot);
    const onSnapshot = (_event, snapshot) => callback(null, snapshot);
    ipcRenderer.on('kernel-taint:change', onChange);
    ipcRenderer.on('kernel-taint:snapshot', onSnapshot);
    return () => {
      ipcRenderer.removeListener('kernel-taint:change', onChange);
      ipcRenderer.removeListener('kernel-taint:snapshot', onSnapshot);
    };
  },
});
