import type { RequestContext } from "../context.js";
import { sendJson } from "../http.js";

export async function liveliness(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, JSON.stringify("I'm alive!"));
}

export async function readiness(ctx: RequestContext): Promise<void> {
  const ready = ctx.options.ready();
  // LiteLLM's "db" field, which monitors read; ready includes the database answering (a split edge has none of its own).
  sendJson(ctx.res, ready ? 200 : 503, ready ? { status: "healthy", db: "connected" } : { status: "unhealthy" });
}

/** GET /test: LiteLLM's old check that the server answers (no key needed). */
export async function testRoute(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, { route: ctx.path });
}
