import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createLogger, openDatabase, parseConfig, type Database } from "@gateway/common";
import { createTestDatabase, eventually, StatementCuts, type TestDatabase } from "@gateway/testing";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment } from "../src/config/deployment.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { DeploymentAllowanceStore } from "../src/db/deployment-allowance-store.js";
import { deploymentAllowances } from "../src/db/schema.js";
import { SharedDeploymentLimits } from "../src/deployment-limits.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";

// The deployment limits' connection to the real Postgres passes through a
// proxy that, when armed, cuts the connection of the next statement the
// armed test matches, once Postgres has run and committed it and before its
// answer reaches the replica, as a network blip or a failover can: the
// replica sees only the connection close, and must neither make it again
// nor take it for not made.

let testDatabase: TestDatabase;
/** The replicas' connection, through the proxy. */
let proxied: Database;
/** A connection of its own, to read what the store counts. */
let direct: Database;
let cuts: StatementCuts;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  cuts = await StatementCuts.inFrontOf(testDatabase.url);
  direct = await openDatabase({ url: testDatabase.url });
  await direct.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "router");
  proxied = await openDatabase({ url: cuts.urlTo(testDatabase.url), max: 1, connectTimeoutSeconds: 5 });
});
afterAll(async () => {
  await proxied?.close();
  await direct?.close();
  await cuts?.close();
  await testDatabase?.drop();
});

const logger = createLogger("test", "silent");
// A clock stopped mid-minute, so no test straddles two rate windows.
const now = () => 1_800_000_030_000;
const replica = () => new SharedDeploymentLimits(new DeploymentAllowanceStore(proxied.db), logger, now);

function deploymentWith(params: string): Deployment {
  const config = parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_base: "http://x/v1", ${params} }, model_info: { id: "${randomUUID()}" } }`);
  return ModelGroups.fromConfig(config, SUPPORTED_PROVIDERS).resolve("m")!.deployments[0]!;
}

/** The minute's tokens all replicas have taken of the deployment's tpm. */
async function tokensTaken(d: Deployment): Promise<number> {
  const rows = await direct.db
    .select({ granted: deploymentAllowances.granted })
    .from(deploymentAllowances)
    .where(and(eq(deploymentAllowances.deploymentId, d.id), eq(deploymentAllowances.kind, "tokens")));
  return rows[0]?.granted ?? 0;
}

// Which statement is which.
const isGiveBack = (statement: string) => statement.includes("GREATEST(0,");
const isTake = (statement: string) => statement.includes("<=");
const isCharge = (statement: string) => /insert into/i.test(statement) && !isTake(statement);
const cut = () => eventually("the statement's answer lost", async () => (cuts.armed ? undefined : true));
const sweeps = () => new Promise((resolve) => setTimeout(resolve, 2_500));

describe("deployment limits whose statement's answer is lost", () => {
  it("gives back once a give-back Postgres made, so other replicas cannot take past the tpm", async () => {
    const d = deploymentWith("tpm: 1000");
    const [a, b] = [replica(), replica()];
    expect(await b.admit(d, 500)).toBe(true);
    // A takes a tenth of the tpm and uses 10 of it.
    expect(await a.admit(d, 10)).toBe(true);
    expect(await tokensTaken(d)).toBe(600);
    cuts.loseAnswerTo(isGiveBack);
    await a.close();
    await cut();
    // Tried again, it is made no more.
    await a.close();
    expect(await tokensTaken(d)).toBe(510);
    const c = replica();
    expect(await c.admit(d, 491)).toBe(false);
    expect(await c.admit(d, 490)).toBe(true);
    await Promise.all([b.close(), c.close()]);
  });

  it("charges once a charge Postgres made", async () => {
    const d = deploymentWith("tpm: 1000");
    const limits = replica();
    expect(await limits.admit(d, 100)).toBe(true);
    cuts.loseAnswerTo(isCharge);
    // The call used 400 where it reserved 100: 300 charged past what the replica held.
    limits.settle(d, 100, 400, now());
    await cut();
    await sweeps();
    await limits.close();
    expect(await tokensTaken(d)).toBe(400);
  });

  it("holds, and so gives back, what a take Postgres made took, though its call failed", async () => {
    const d = deploymentWith("tpm: 1000");
    const limits = replica();
    cuts.loseAnswerTo(isTake);
    await expect(limits.admit(d, 10)).rejects.toThrow();
    expect(await tokensTaken(d)).toBe(100);
    await sweeps();
    await limits.close();
    expect(await tokensTaken(d)).toBe(0);
  });
});
