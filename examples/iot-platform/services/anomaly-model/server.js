// Anomaly model: a hosted AI model scoring readings by their z-score against a running mean.
import { createServer } from 'node:http';

const threshold = Number(process.env.THRESHOLD || 3);
let n = 0, mean = 0, m2 = 0;

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', observations: n }));
  if (url.pathname === '/score') {
    const x = Number(url.searchParams.get('value'));
    const sd = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
    const z = sd > 0 ? Math.abs(x - mean) / sd : 0;
    n += 1;
    const delta = x - mean;
    mean += delta / n;
    m2 += delta * (x - mean);
    return res.end(JSON.stringify({ value: x, z, anomaly: z > threshold }));
  }
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8090), process.env.HOST || '0.0.0.0');
