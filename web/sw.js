// Offline support: every file the demo needs is cached when the service worker installs;
// requests go to the network first (so a rebuilt demo is picked up) and fall back to the
// cache when offline. The package holds two wasm builds and a browser runs one: that one is
// cached when the page asks for it (app.js, after choosing it as the package does), so the
// other (about 240 KB) is never downloaded.
const CACHE = 'tinygpt-demo-v3';
const FILES = [
  './',
  'index.html',
  'style.css',
  'app.js',
  'worker.js',
  'pkg/src/browser.js',
  'pkg/src/tinygpt.js',
  'pkg/src/detect.js',
  'pkg/pkg/tinygpt.tgpt',
];
const BUILDS = new Set([
  'pkg/pkg/tinygpt_wasm.js',
  'pkg/pkg/tinygpt_wasm_bg.wasm',
  'pkg/pkg/tinygpt_wasm_relaxed.js',
  'pkg/pkg/tinygpt_wasm_relaxed_bg.wasm',
]);

// { cacheBuild: [files] } from the page: cache those build files, answer 'cached' (or the
// error) on the transferred port.
self.addEventListener('message', (e) => {
  const files = e.data?.cacheBuild;
  const port = e.ports[0];
  if (!Array.isArray(files) || !port) return;
  if (!files.every((f) => BUILDS.has(f))) {
    port.postMessage('not a build file');
    return;
  }
  e.waitUntil(
    caches.open(CACHE)
      .then((c) => c.addAll(files))
      .then(() => port.postMessage('cached'), (err) => port.postMessage(String(err))),
  );
});

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  e.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req, { ignoreSearch: true }).then((hit) => hit ?? Response.error())),
  );
});
