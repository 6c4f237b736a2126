// Reference Node.js backend: the `/health` endpoint the integration pipeline checks.
// Plain Node (no packages). Start: PORT=3030 node server.js
// POST /_control {"healthy": false} makes /health answer 503 (for tests and the demo).
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT || 3030);
const started = Date.now();
let healthy = !['0', 'false', 'no'].includes(String(process.env.NODEJS_HEALTHY || '1').toLowerCase());

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') {
    const body = { status: healthy ? 'healthy' : 'unhealthy', service: 'nodejs-backend', uptime_seconds: (Date.now() - started) / 1000 };
    return send(res, healthy ? 200 : 503, body);
  }
  if (req.method === 'POST' && url.pathname === '/_control') {
    let raw = '';
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      try {
        const change = JSON.parse(raw || '{}');
        if (typeof change.healthy === 'boolean') healthy = change.healthy;
        send(res, 200, { healthy });
      } catch (e) {
        send(res, 400, { error: 'invalid JSON' });
      }
    });
    return;
  }
  send(res, 404, { error: 'not found' });
});

server.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`nodejs reference service listening on ${process.env.HOST || '127.0.0.1'}:${port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
