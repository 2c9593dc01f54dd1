// main.cjs: Electron main process (Node APIs; loads kernel-taint)
const path = require('node:path');
const { app, BrowserWindow, ipcMain } = require('electron');
const { watchTaint } = require('kernel-taint');
const { createTaintPanelFeed } = require('kernel-taint/serve');

app.whenReady().then(() => {
  const watcher = watchTaint();
  const feed = createTaintPanelFeed({ source: watcher });
  ipcMain.handle('kernel-taint:snapshot', () => feed.snapshot());
  const win = new BrowserWindow({
    webPreferences: { preload: path.join(__dirname, 'preload.cjs'), contextIsolation: true, sandbox: true },
  });
  const send = (channel, ...args) => {
    if (!win.isDestroyed()) win.webContents.send(channel, ...args);
  };
  feed.on('change', (change, snapshot) => send('kernel-taint:change', change, snapshot));
  feed.on('snapshot', (snapshot) => send('kernel-taint:snapshot', snapshot)); // a read error, or recovery
  win.on('closed', () => {
    feed.close();
    watcher.close();
  });
  win.loadFile('index.html');
});
