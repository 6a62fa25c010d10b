// The inbox's GraphiQL page: every script comes from this server, the address's fragment
// (#token=<jwt>&query=<text>) fills the Authorization header and the query, and subscriptions run
// over graphql-transport-ws on the same URL. The fragment never reaches the server or its logs.
(function () {
  "use strict";

  const DEFAULT_QUERY = `# The creator inbox API. Run with Ctrl-Enter; Docs and autocompletion come from the schema.
# Requests send the Authorization header below (Headers); subscriptions send it as connection_init.
query Inbox {
  conversations(first: 10) {
    nodes {
      id unreadCount lastActivityAt
      creator { handle followerCount }
      lastMessage { createdAt content { ... on TextContent { text } } }
    }
  }
  inboxCounts { all unread unreplied starred archived }
}
`;

  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const url = window.location.origin + window.location.pathname;
  const props = {
    // GraphiQL sends the headers editor's JSON with every request and, merged into
    // wsConnectionParams, as the WebSocket's connection_init payload.
    fetcher: GraphiQL.createFetcher({ url, subscriptionUrl: url.replace(/^http/, "ws") }),
    defaultQuery: DEFAULT_QUERY,
    defaultEditorToolsVisibility: "headers",
    shouldPersistHeaders: false, // tokens stay out of localStorage
  };
  const token = fragment.get("token");
  if (token) {
    props.headers = JSON.stringify({ Authorization: "Bearer " + token }, null, 2);
  }
  if (fragment.get("query")) {
    props.query = fragment.get("query");
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
})();
