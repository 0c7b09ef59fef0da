// Sensor binder: binds a sensor to the application instance that consumes its readings.
import { createServer } from 'node:http';

const bindings = [];

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', bindings: bindings.length }));
  if (url.pathname === '/bind') {
    const binding = { sensor: url.searchParams.get('sensor'), app: url.searchParams.get('app'), at: new Date().toISOString() };
    bindings.push(binding);
    return res.end(JSON.stringify(binding));
  }
  if (url.pathname === '/bindings') return res.end(JSON.stringify(bindings));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8011), process.env.HOST || '0.0.0.0');
