// Offline support: every file the demo needs is cached when the service worker installs;
// requests go to the network first (so a rebuilt demo is picked up) and fall back to the
// cache when offline.
const CACHE = 'tinygpt-demo-v2';
const FILES = [
  './',
  'index.html',
  'style.css',
  'app.js',
  'worker.js',
  'pkg/src/browser.js',
  'pkg/src/tinygpt.js',
  'pkg/pkg/tinygpt_wasm.js',
  'pkg/pkg/tinygpt_wasm_bg.wasm',
  'pkg/src/detect.js',
  'pkg/pkg/tinygpt_wasm_relaxed.js',
  'pkg/pkg/tinygpt_wasm_relaxed_bg.wasm',
  'pkg/pkg/tinygpt.tgpt',
];

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
