import type { CredentialView } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { asAdmin, asMasterKey, sendJson, storedPathName } from "../http.js";
import { adminJson } from "./admin-request.js";
import { jsonOfBytes } from "./model-admin.js";

// LiteLLM's credential management routes (/credentials…), for the master key
// or an admin's key, as calls to the router's credential RPCs. Secret values
// are masked by the router and never reach this edge.

const shown = (view: CredentialView | undefined) => (view ? jsonOfBytes(view.json) : null);

/** The credential name (or model id, `param`) in a path after `prefix`, as sent (it may hold "/", escaped or not). */
const nameAfter = (ctx: RequestContext, prefix: string, param = "credential_name") => storedPathName(ctx.path.slice(prefix.length), param);

/** POST /credentials: { credential_name, credential_values or model_id, credential_info }. */
export async function createCredential(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { raw } = await adminJson(ctx);
  await ctx.options.peers.router.createCredential({ credential: raw }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { success: true, message: "Credential created successfully" });
}

/** GET /credentials: every credential, secret values masked. */
export async function listCredentials(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { credentials } = await ctx.options.peers.router.listCredentials({}, asMasterKey(ctx));
  sendJson(ctx.res, 200, { success: true, credentials: credentials.map(shown) });
}

/** GET /credentials/by_name/{credential_name}. */
export async function credentialByName(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { credential } = await ctx.options.peers.router.getCredential({ of: { case: "name", value: nameAfter(ctx, "/credentials/by_name/") } }, asMasterKey(ctx));
  sendJson(ctx.res, 200, shown(credential));
}

/** GET /credentials/by_model/{model_id}: the credential values of a deployment, named "{model_name}-credential-{model_id}". */
export async function credentialByModel(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { credential } = await ctx.options.peers.router.getCredential({ of: { case: "modelId", value: nameAfter(ctx, "/credentials/by_model/", "model_id") } }, asMasterKey(ctx));
  sendJson(ctx.res, 200, shown(credential));
}

/** PATCH /credentials/{credential_name}: { credential_name?, credential_values?, credential_info? }. */
export async function updateCredential(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { raw } = await adminJson(ctx);
  await ctx.options.peers.router.updateCredential({ name: nameAfter(ctx, "/credentials/"), changes: raw }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { success: true, message: "Credential updated successfully" });
}

/** DELETE /credentials/{credential_name}. */
export async function deleteCredential(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  await ctx.options.peers.router.deleteCredential({ name: nameAfter(ctx, "/credentials/") }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { success: true, message: "Credential deleted successfully" });
}
