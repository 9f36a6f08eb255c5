// /mattermost/healthcheck.js in the bed's app images: exits 0 when /api/v4/system/ping says OK.
// Plain CommonJS, no dependencies; used by the images' HEALTHCHECK (and compose files).
'use strict';
const http = require('node:http');

const address = process.env.MM_SERVICESETTINGS_LISTENADDRESS || ':8065';
const match = /^(?:.*:)?(\d{1,5})$/.exec(address.trim());
const port = match ? Number(match[1]) : 8065;

const req = http.get({ host: '127.0.0.1', port, path: '/api/v4/system/ping', timeout: 5000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => (body += d));
  res.on('end', () => {
    let status;
    try {
      status = JSON.parse(body).status;
    } catch {
      status = undefined;
    }
    if (res.statusCode === 200 && status === 'OK') process.exit(0);
    console.error(`ping: HTTP ${res.statusCode} ${body.slice(0, 200)}`);
    process.exit(1);
  });
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => {
  console.error(`ping: ${err.message}`);
  process.exit(1);
});
