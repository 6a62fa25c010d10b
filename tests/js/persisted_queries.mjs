// Apollo Client's PersistedQueryLink against a running server: runs each document given, in order,
// through one client, and prints as JSON every HTTP request the link made and each outcome.
//
//   node tests/js/persisted_queries.mjs URL TOKEN get|post DOCUMENT...
//
// `get` sets useGETForHashedQueries (hash-only queries as GET, as Apollo documents for CDNs).
import { createHash } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token, method, ...documents] = process.argv.slice(2);
const requests = [];

async function loggingFetch(input, init) {
  const target = new URL(input);
  const payload = init.method === "GET"
    ? { query: target.searchParams.get("query") ?? undefined,
        extensions: JSON.parse(target.searchParams.get("extensions") ?? "{}") }
    : JSON.parse(init.body);
  const response = await fetch(input, init);
  const body = await response.clone().json().catch(() => null);
  requests.push({
    method: init.method,
    sentQuery: typeof payload.query === "string",
    sha256Hash: payload.extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    type: response.headers.get("content-type")?.split(";")[0] ?? null,
    codes: (body?.errors ?? []).map((error) => error.extensions?.code ?? null),
  });
  return response;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const link = ApolloLink.from([
  new PersistedQueryLink({ sha256, useGETForHashedQueries: method === "get" }),
  new HttpLink({ uri: url, fetch: loggingFetch, headers: { Authorization: `Bearer ${token}` } }),
]);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const results = [];
for (const document of documents) {
  try {
    const { data, error } = await client.query({ query: gql(document), fetchPolicy: "network-only" });
    results.push(error ? { error: errorCodes(error) } : { data });
  } catch (error) {
    results.push({ error: errorCodes(error) });
  }
}
console.log(JSON.stringify({ requests, results }));

function errorCodes(error) {
  return { message: error.message, codes: (error.errors ?? []).map((each) => each.extensions?.code ?? null) };
}
