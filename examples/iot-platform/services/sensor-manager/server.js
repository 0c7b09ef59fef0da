// Sensor manager: the catalogue of registered sensors.
import { createServer } from 'node:http';

const sensors = new Map([['temp-1', { id: 'temp-1', type: 'temperature', unit: 'C' }]]);

createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/health') return res.end(JSON.stringify({ status: 'ok', sensors: sensors.size }));
  if (req.url === '/sensors' && req.method === 'GET') return res.end(JSON.stringify([...sensors.values()]));
  if (req.url === '/sensors' && req.method === 'POST') {
    let data = '';
    req.on('data', (c) => (data += c));
    return req.on('end', () => {
      const sensor = JSON.parse(data || '{}');
      sensors.set(sensor.id, sensor);
      res.statusCode = 201;
      res.end(JSON.stringify(sensor));
    });
  }
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8010), process.env.HOST || '0.0.0.0');
