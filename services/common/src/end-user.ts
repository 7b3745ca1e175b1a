/**
 * The most of an end user's id (LiteLLM's customer) the gateway reads, in
 * UTF-16 units. It is the client's own text (a header, or the body's "user")
 * that nothing upstream caps; the edge cuts it here, so the keys service
 * matches customers by, and the ledger keeps and groups by, the same text.
 */
export const END_USER_MAX_CHARS = 256;
