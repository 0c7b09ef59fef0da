// Request manager: the platform's front door; counts and routes user requests.
import { createServer } from 'node:http';

const counts = {};

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok' }));
  if (url.pathname.startsWith('/requests/')) {
    const kind = url.pathname.slice('/requests/'.length) || 'default';
    counts[kind] = (counts[kind] || 0) + 1;
    return res.end(JSON.stringify({ kind, queued: counts[kind] }));
  }
  if (url.pathname === '/stats') return res.end(JSON.stringify(counts));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8002), process.env.HOST || '0.0.0.0');
