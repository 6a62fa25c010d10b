// graphql-http's server audits (the GraphQL over HTTP spec) against a running server.
// Usage: node graphql-http-audit.mjs URL TOKEN
// Prints a JSON array, one entry per audit: {id, name, status} ("ok", or "notice"/"warn"/"error" with
// the reason and what the server answered). The audits send no Authorization header: fetchFn adds the token's.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node graphql-http-audit.mjs URL TOKEN');
  process.exit(2);
}

function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    Object.assign(entry, {
      reason: result.reason,
      httpStatus: result.response.status,
      contentType: result.response.headers.get('content-type'),
      body: (await result.response.text()).slice(0, 500),
    });
  }
  results.push(entry);
}
console.log(JSON.stringify(results));
