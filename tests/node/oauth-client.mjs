// The TypeScript MCP SDK's OAuth client against zbmcp, knowing only its URL: 401, discovery, registration (or a
// Client ID Metadata Document), the person's browser part (Zoho's sign-in page, zbmcp's consent page, answered
// here by a small cookie-keeping user agent), the code with `iss`, tokens, tools/list and tool calls, and with
// --write the scope challenge and a second authorization. Prints one JSON object on stdout.
//
//   node oauth-client.mjs --sdk v2|v1 --url http://127.0.0.1:PORT --email alice@... [--password sandbox]
//                         [--client-metadata-url https://...] [--write ORG]

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, word, index, all) => {
  if (word.startsWith("--")) pairs.push([word.slice(2), all[index + 1]?.startsWith("--") ? "" : all[index + 1] ?? ""]);
  return pairs;
}, []));
const sdk = args.sdk ?? "v2";
const base = args.url;
const redirectUrl = "http://127.0.0.1:9/callback"; // never served: the user agent stops when it is reached

const { Client, StreamableHTTPClientTransport, UnauthorizedError } = sdk === "v1"
  ? {
      ...(await import("@modelcontextprotocol/sdk/client/index.js")),
      ...(await import("@modelcontextprotocol/sdk/client/streamableHttp.js")),
      ...(await import("@modelcontextprotocol/sdk/client/auth.js")),
    }
  : await import("@modelcontextprotocol/client");

// -- a person's browser: cookies, redirects one by one, forms ------------------------------------------------

const cookies = new Map(); // origin -> Map(name -> value)

function unescape(text) {
  return text.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

async function visit(url, init = {}) {
  const origin = new URL(url).origin;
  const jar = cookies.get(origin) ?? new Map();
  const headers = { ...(init.headers ?? {}) };
  if (jar.size) headers.cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  const response = await fetch(url, { ...init, headers, redirect: "manual" });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  cookies.set(origin, jar);
  return response;
}

// Follows redirects until a page, or until the app's redirect URI, whose URL it returns.
async function browse(url, init) {
  let response = await visit(url, init);
  while ([302, 303].includes(response.status)) {
    const next = new URL(response.headers.get("location"), url).href;
    if (next.startsWith(redirectUrl)) return { callback: new URL(next) };
    url = next;
    response = await visit(url);
  }
  return { page: await response.text(), url, status: response.status };
}

function formOf(html) {
  const form = html.match(/<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/);
  if (!form) throw new Error(`no form on the page: ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const [, attributes] of form[2].matchAll(/<input\b([^>]*)>/g)) {
    const attribute = (name) => unescape(attributes.match(new RegExp(`${name}="([^"]*)"`))?.[1] ?? "");
    const type = attribute("type") || "text";
    if (!attribute("name")) continue;
    if ((type === "radio" || type === "checkbox") && !/\bchecked\b/.test(attributes)) continue;
    fields.set(attribute("name"), attribute("value"));
  }
  return { action: unescape(form[1]), fields };
}

async function submit(page, url, values) {
  const { action, fields } = formOf(page);
  for (const [name, value] of Object.entries(values)) fields.set(name, value);
  return browse(new URL(action, url).href, {
    method: "POST", body: fields.toString(), headers: { "content-type": "application/x-www-form-urlencoded" },
  });
}

const visited = [];

async function authorizeInBrowser(authorizationUrl) {
  visited.push(authorizationUrl.href);
  let step = await browse(authorizationUrl.href);
  if (step.page?.includes("Sign in to Zoho")) {
    step = await submit(step.page, step.url, { email: args.email, password: args.password ?? "sandbox",
                                               action: "sign_in" });
  }
  if (step.page?.includes('action="/oauth/consent"')) step = await submit(step.page, step.url, { decision: "allow" });
  if (!step.callback) throw new Error(`the authorization did not come back to the app: ${step.status} ${step.page}`);
  return step.callback;
}

// -- the OAuth client provider the SDK asks ------------------------------------------------------------------

let lastCallback;
let registered = false;
const provider = {
  get redirectUrl() { return redirectUrl; },
  clientMetadataUrl: args["client-metadata-url"] || undefined,
  get clientMetadata() {
    return { client_name: `TypeScript SDK ${sdk}`, redirect_uris: [redirectUrl], token_endpoint_auth_method: "none",
             grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] };
  },
  _client: undefined, _tokens: undefined, _verifier: undefined,
  clientInformation() { return this._client; },
  saveClientInformation(info) { registered = registered || !String(info.client_id).startsWith("https://"); this._client = info; },
  tokens() { return this._tokens; },
  saveTokens(tokens) { this._tokens = tokens; },
  saveCodeVerifier(verifier) { this._verifier = verifier; },
  codeVerifier() { return this._verifier; },
  async redirectToAuthorization(url) { lastCallback = await authorizeInBrowser(url); },
};

async function finish(transport) {
  const params = lastCallback.searchParams;
  if (!params.get("code")) throw new Error(`authorization refused: ${params.get("error")}`);
  if (params.get("iss") !== base) throw new Error(`iss ${params.get("iss")} is not ${base}`);
  await (sdk === "v1" ? transport.finishAuth(params.get("code")) : transport.finishAuth(params));
}

async function connected() {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider });
    const client = new Client({ name: `zbmcp-test-${sdk}`, version: "1.0.0" });
    try {
      await client.connect(transport);
      return { client, transport };
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !lastCallback) throw error;
      await finish(transport);
    }
  }
  throw new Error("could not connect after authorizing");
}

async function call(session, name, toolArguments) {
  try {
    return await session.client.callTool({ name, arguments: toolArguments });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await finish(session.transport); // a scope challenge sent the person through the browser again
    return await session.client.callTool({ name, arguments: toolArguments });
  }
}

const session = await connected();
const tools = (await session.client.listTools()).tools.map((tool) => tool.name).sort();
const result = { tools, registered, scope: provider._tokens?.scope };
if (args.write) {
  try {
    const written = await call(session, "create_contact", { organization_id: args.write,
                                                            contact_name: `Made by ${sdk}` });
    result.write = { isError: written.isError ?? false, text: written.content?.[0]?.text };
  } catch (error) {
    result.write = { failed: String(error?.message ?? error) };
  }
  result.scope = provider._tokens?.scope;
}
result.authorizations = visited.length;
await session.client.close();
process.stdout.write(JSON.stringify(result) + "\n");
