// Bounds on what a client may have the ledger keep for a request: its own
// text, which nothing upstream limits. The edge holds requests to them, and
// the router again, for callers that are not the edge, so the ledger keeps
// and filters by the same.

/** The most of a request's session id kept, in UTF-16 units (longer is cut). */
export const SESSION_ID_MAX_CHARS = 256;

/** The most of a request's spend_logs_metadata kept, as JSON bytes (more is refused). */
export const SPEND_LOGS_METADATA_MAX_BYTES = 8192;
