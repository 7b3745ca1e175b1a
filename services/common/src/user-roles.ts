/**
 * LiteLLM's user roles (a user's user_role): what the keys of a user may do
 * on the management API. A key without a user has none of them.
 */
export const USER_ROLES = ["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** May change anything: the master key's role, and proxy_admin users'. */
export const administers = (role: string): boolean => role === "proxy_admin";

/** May read everything. */
export const readsAll = (role: string): boolean => role === "proxy_admin" || role === "proxy_admin_viewer";

/** Reads its own user's spend logs (the roles that may not read everyone's). */
export const readsOwnSpend = (role: string): boolean => role === "internal_user" || role === "internal_user_viewer";
