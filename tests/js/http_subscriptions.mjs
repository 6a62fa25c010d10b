// Subscribes to messageAdded over HTTP with a real client, and prints one JSON line per event:
//   node tests/js/http_subscriptions.mjs sse|apollo <url> <token> [<after cursor>]
// sse: graphql-sse's client (distinct connections mode); apollo: Apollo Client's HttpLink (multipart).
// Lines: {"next": {"data": ..., "errors": [...]}} per result, then {"complete": true} when the server ends
// the stream, or {"error": "..."} when the client reports one. Exits when the stream ends (or after 60 s).
import { createClient } from "graphql-sse";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const [kind, url, token, after] = process.argv.slice(2);
const QUERY = `subscription Live($after: String) {
  messageAdded(after: $after) { id content { ... on TextContent { text } } }
}`;
const variables = after ? { after } : {};
const headers = { Authorization: `Bearer ${token}` };
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const end = () => setTimeout(() => process.exit(0), 10);

function sse() {
  const client = createClient({ url, headers, retryAttempts: 0 });
  client.subscribe({ query: QUERY, variables }, {
    next: (result) => print({ next: result }),
    error: (error) => { print({ error: String(error?.message ?? error) }); end(); },
    complete: () => { print({ complete: true }); end(); },
  });
}

function apollo() {
  const client = new ApolloClient({ link: new HttpLink({ uri: url, headers }), cache: new InMemoryCache() });
  client.subscribe({ query: gql(QUERY), variables }).subscribe({
    // Apollo Client 4 hands over a result's GraphQL errors as `error` (CombinedGraphQLErrors).
    next: ({ data, error }) => print({ next: error ? { data: data ?? null, errors: error.errors } : { data } }),
    error: (error) => { print({ error: String(error?.message ?? error) }); end(); },
    complete: () => { print({ complete: true }); end(); },
  });
}

setTimeout(() => { print({ error: "no end of stream within 60 s" }); process.exit(1); }, 60_000).unref();
({ sse, apollo })[kind]();
