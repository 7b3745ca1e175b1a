import { readinessAnswer } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { sendJson } from "../http.js";

export async function liveliness(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, JSON.stringify("I'm alive!"));
}

export async function readiness(ctx: RequestContext): Promise<void> {
  // A split edge holds no database, so its answer has no "db" field.
  const { status, body } = await readinessAnswer(ctx.options.ready(), ctx.options.database);
  sendJson(ctx.res, status, body);
}

/** GET /test: LiteLLM's old check that the server answers (no key needed). */
export async function testRoute(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, { route: ctx.path });
}
