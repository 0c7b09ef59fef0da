// Authentication: issues and verifies short-lived HMAC tokens for the platform's services.
import { createServer } from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';

const key = process.env.TOKEN_SIGNING_KEY || randomUUID(); // from secretEnv, never baked into the image
const sign = (body) => createHmac('sha256', key).update(body).digest('base64url');

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', service: 'authentication' }));
  if (url.pathname === '/token') {
    const body = Buffer.from(JSON.stringify({ sub: url.searchParams.get('user') || 'anonymous', exp: Date.now() + 3600e3 })).toString('base64url');
    return res.end(JSON.stringify({ token: `${body}.${sign(body)}` }));
  }
  if (url.pathname === '/verify') {
    const [body, sig] = (url.searchParams.get('token') || '').split('.');
    return res.end(JSON.stringify({ valid: !!body && sign(body) === sig }));
  }
  res.statusCode = 404;
  res.end(JSON.stringify({ error: 'not found' }));
}).listen(Number(process.env.PORT || 8001), process.env.HOST || '0.0.0.0');
