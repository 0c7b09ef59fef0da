// Dashboard: a hosted app with a small HTML page.
import { createServer } from 'node:http';

const title = process.env.TITLE || 'Dashboard';
const started = new Date().toISOString();

createServer((req, res) => {
  if (req.url === '/health') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ status: 'ok', started }));
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>${title}</title><h1>${title}</h1><p>Up since ${started}</p>`);
}).listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0');
