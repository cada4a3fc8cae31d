// whatwg-url-shim.cjs: node-fetch 2 (used by @kubernetes/client-node 1.x) requires whatwg-url at
// load time but uses Node's own url.URL when it exists, which it always does on Node >= 10. The
// real package builds Unicode tables at load (~5 MiB RSS); the bundle maps it to Node's URL.
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
