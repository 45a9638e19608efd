/**
 * The OpenTelemetry semantic-convention attribute names the gateway sets, as plain constants: the
 * names are a stable part of the conventions, and `@opentelemetry/semantic-conventions` is an index
 * of every attribute of every convention (about 1 MB of V8 heap once loaded), which a gateway with
 * tracing off has no use for. The SDK setup (tracing-sdk.ts, loaded only when tracing is on) still
 * takes its resource attributes from the package.
 */
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_SCHEME = 'url.scheme';
