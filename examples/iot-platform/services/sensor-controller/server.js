// Sensor controller: accepts commands for sensors (on, off, sample rate).
import { createServer } from 'node:http';

const COMMANDS = new Set(['on', 'off', 'rate']);
let accepted = 0;

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', accepted }));
  const match = url.pathname.match(/^\/sensors\/([\w-]+)\/(\w+)$/);
  if (match && COMMANDS.has(match[2])) {
    accepted += 1;
    res.statusCode = 202;
    return res.end(JSON.stringify({ sensor: match[1], command: match[2], accepted: true }));
  }
  res.statusCode = 400;
  res.end(JSON.stringify({ error: `unknown command; use one of ${[...COMMANDS].join(', ')}` }));
}).listen(Number(process.env.PORT || 8012), process.env.HOST || '0.0.0.0');
