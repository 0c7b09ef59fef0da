// Deployment manager: records which application version is deployed where.
import { createServer } from 'node:http';

const deployments = [];

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', deployments: deployments.length }));
  if (url.pathname === '/deploy') {
    const record = { app: url.searchParams.get('app'), version: url.searchParams.get('version') || 'latest' };
    deployments.push(record);
    res.statusCode = 201;
    return res.end(JSON.stringify(record));
  }
  if (url.pathname === '/deployments') return res.end(JSON.stringify(deployments));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8020), process.env.HOST || '0.0.0.0');
