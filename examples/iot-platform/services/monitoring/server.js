// Monitoring: serves its health; the probing loop that calls the LCM's restart API comes with
// the self-healing work.
import { createServer } from 'node:http';

createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/health') return res.end(JSON.stringify({ status: 'ok', service: 'monitoring' }));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8100), process.env.HOST || '0.0.0.0');
