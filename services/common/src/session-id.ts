/**
 * The most of a request's session id the gateway keeps, in UTF-16 units: the
 * client's own text, which the edge cuts here (and the router again, for
 * callers that are not the edge) so the ledger keeps and filters by the same.
 */
export const SESSION_ID_MAX_CHARS = 256;
