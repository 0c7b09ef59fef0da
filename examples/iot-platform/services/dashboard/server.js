// Dashboard: a hosted app with a small HTML page.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const title = process.env.TITLE || 'Dashboard';
const started = new Date().toISOString();

createServer((req, res) => {
  if (req.url === '/health') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ status: 'ok', started }));
  }
  if (req.url === '/build-info') {
    // Written by the Dockerfile's RUN step.
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    return res.end(readFileSync(new URL('./build-info.txt', import.meta.url)));
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>${title}</title><h1>${title}</h1><p>Up since ${started}</p>`);
}).listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0');
