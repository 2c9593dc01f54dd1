// Stand-ins for the parts of Electron the README's recipe uses (Electron
// itself cannot be installed here: its package downloads the binary from
// GitHub), with Electron's signatures and semantics:
// - ipcMain.handle(channel, (event, ...args) => result); a second handler for a channel throws.
// - ipcRenderer.invoke(channel, ...args) returns a promise (rejects when no handler is registered).
// - ipcRenderer.on(channel, listener) returns the ipcRenderer; listeners get (event, ...args).
// - webContents.send(channel, ...args) delivers asynchronously; arguments and results cross the
//   process boundary by structured clone (a function throws DataCloneError, as in Electron).
// - BrowserWindow.loadFile() runs the preload, whose contextBridge.exposeInMainWorld(key, api)
//   is kept in `standin.exposed` for the harness that plays the page.
'use strict';
const { EventEmitter } = require('node:events');

const handlers = new Map();
const exposed = {};
const windows = [];

const ipcRenderer = new EventEmitter();
ipcRenderer.invoke = (channel, ...args) => {
  const handler = handlers.get(channel);
  if (!handler) {
    return Promise.reject(
      new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`),
    );
  }
  const sent = structuredClone(args);
  return Promise.resolve()
    .then(() => handler({ sender: null, frameId: 1 }, ...sent))
    .then((result) => structuredClone(result));
};
ipcRenderer.send = (channel, ...args) => {
  const sent = structuredClone(args);
  setImmediate(() => ipcMain.emit(channel, { sender: null, frameId: 1 }, ...sent));
};

const ipcMain = new EventEmitter();
ipcMain.handle = (channel, handler) => {
  if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
  handlers.set(channel, handler);
};
ipcMain.removeHandler = (channel) => {
  handlers.delete(channel);
};

class BrowserWindow extends EventEmitter {
  #destroyed = false;
  constructor(options = {}) {
    super();
    this.options = options;
    this.loadedFile = null;
    this.webContents = {
      send: (channel, ...args) => {
        if (this.#destroyed) throw new Error('Object has been destroyed');
        const sent = structuredClone(args);
        setImmediate(() => ipcRenderer.emit(channel, { sender: null, senderId: 0 }, ...sent));
      },
    };
    windows.push(this);
  }
  loadFile(file) {
    this.loadedFile = file;
    const preload = this.options.webPreferences?.preload;
    if (preload) require(preload);
    return Promise.resolve();
  }
  isDestroyed() {
    return this.#destroyed;
  }
  close() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.emit('closed');
  }
}

const contextBridge = {
  exposeInMainWorld(key, api) {
    if (key in exposed) throw new Error(`Cannot bind an API on top of an existing property on the window object`);
    exposed[key] = api;
  },
};

const app = {
  whenReady: () => Promise.resolve(),
  on: () => app,
  quit: () => {},
};

module.exports = { app, BrowserWindow, contextBridge, ipcMain, ipcRenderer, standin: { exposed, handlers, windows } };
