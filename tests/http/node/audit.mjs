// Runs graphql-http's auditServer against a running gateway and prints the results as JSON.
// Usage: node audit.mjs <graphql url> <bearer token>
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
const out = [];
for (const r of results) {
  const entry = { id: r.id, name: r.name, status: r.status };
  if (r.status !== 'ok') {
    entry.reason = r.reason;
    entry.responseStatus = r.response?.status;
    try { entry.body = (await r.response.text()).slice(0, 300); } catch { /* already read */ }
  }
  out.push(entry);
}
process.stdout.write(JSON.stringify(out));
