import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createLogger, openDatabase, parseConfig, type Database } from "@gateway/common";
import { eventually } from "@gateway/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import type { Deployment } from "../src/config/deployment.js";
import { DeploymentAllowanceStore, type AllowanceRef } from "../src/db/deployment-allowance-store.js";
import { deploymentAllowances } from "../src/db/schema.js";
import { SharedDeploymentLimits } from "../src/deployment-limits.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";

// Two replicas' limits over one (embedded) Postgres: what they admit
// together never passes a deployment's rpm or tpm.

let database: Database;
const logger = createLogger("test", "silent");
// A clock stopped mid-minute, so no test straddles two rate windows.
const now = () => 1_800_000_030_000;

beforeAll(async () => {
  database = await openDatabase({});
  await database.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "router");
});

afterAll(() => database?.close());

function deploymentWith(params: string): Deployment {
  const config = parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_base: "http://x/v1", ${params} }, model_info: { id: "${params}" } }`);
  return ModelGroups.fromConfig(config, SUPPORTED_PROVIDERS).resolve("m")!.deployments[0]!;
}

/** The store with the database unreachable while `down`. */
class DownStore extends DeploymentAllowanceStore {
  down = false;

  override async charge(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.charge(ref, amount, op);
  }

  override async giveBack(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.giveBack(ref, amount, op);
  }
}

async function admitted(limits: SharedDeploymentLimits[], d: Deployment, tokens: number, tries: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < tries; i++) if (await limits[i % limits.length]!.admit(d, tokens)) count += 1;
  return count;
}

describe("per-deployment limits shared by router replicas", () => {
  it("admits no more than the rpm across replicas", async () => {
    const store = new DeploymentAllowanceStore(database.db);
    const replicas = [new SharedDeploymentLimits(store, logger, now), new SharedDeploymentLimits(store, logger, now)];
    const d = deploymentWith("rpm: 7");
    expect(await admitted(replicas, d, 0, 20)).toBe(7);
    for (const r of replicas) await r.close();
  });

  it("admits every one of many calls arriving together while the rpm has room, and counts only what they used", async () => {
    const store = new DeploymentAllowanceStore(database.db);
    const limits = new SharedDeploymentLimits(store, logger, now);
    const d = deploymentWith("rpm: 1000");
    const admits = await Promise.all(Array.from({ length: 200 }, () => limits.admit(d, 0)));
    expect(admits.every(Boolean)).toBe(true);
    await limits.close();
    // Exactly what was used is counted: the rest of the minute's rpm is there for another replica.
    const other = new SharedDeploymentLimits(store, logger, now);
    expect(await admitted([other], d, 0, 1000)).toBe(800);
    await other.close();
  });

  it("admits no more tokens than the tpm, counts what calls really used, and reports the usage", async () => {
    const store = new DeploymentAllowanceStore(database.db);
    const replicas = [new SharedDeploymentLimits(store, logger, now), new SharedDeploymentLimits(store, logger, now)];
    const d = deploymentWith("tpm: 1000");
    expect(await admitted(replicas, d, 300, 10)).toBe(3);
    // A call that used far less than it reserved leaves room on its replica.
    replicas[0]!.settle(d, 300, 50, now());
    expect(await replicas[0]!.admit(d, 200)).toBe(true);
    expect(replicas[0]!.tokensUsed(d)).toBeGreaterThan(0);
    for (const r of replicas) await r.close();
  });

  it("lets deployments without rpm or tpm through, tracking their tokens for usage-based picks", async () => {
    const limits = new SharedDeploymentLimits(new DeploymentAllowanceStore(database.db), logger, now);
    const d = deploymentWith("weight: 1");
    expect(await admitted([limits], d, 100, 5)).toBe(5);
    limits.settle(d, 100, 40, now());
    expect(limits.tokensUsed(d)).toBe(440);
    await limits.close();
  });

  it("takes nothing of a deployment's rpm for a call its tpm refuses, and admits from what it holds without a promise", async () => {
    const limits = new SharedDeploymentLimits(new DeploymentAllowanceStore(database.db), logger, now);
    const d = deploymentWith("rpm: 20, tpm: 1000");
    expect(await limits.admit(d, 1001)).toBe(false);
    expect(await limits.admit(d, 10)).toBe(true);
    // That took a tenth of the rpm and of the tpm: the next call needs no database.
    expect(limits.admit(d, 10)).toBe(true);
    // The refused call left the whole rpm to the others.
    expect(await admitted([limits], d, 10, 30)).toBe(18);
    await limits.close();
  });

  it("gives a call's unused tokens back to its own minute only, and counts tokens used past it in the current one", async () => {
    let clock = now();
    const limits = new SharedDeploymentLimits(new DeploymentAllowanceStore(database.db), logger, () => clock);
    const d = deploymentWith("tpm: 1000, weight: 4");
    const admittedAt = clock;
    expect(await limits.admit(d, 300)).toBe(true);
    expect(await limits.admit(d, 300)).toBe(true);
    clock += 60_000;
    expect(await limits.admit(d, 300)).toBe(true);
    // Of the earlier minute's calls one used none of its 300 (they lapse with their minute), the other 500: 200 more, in this minute.
    limits.settle(d, 300, 0, admittedAt);
    limits.settle(d, 300, 500, admittedAt);
    expect(limits.tokensUsed(d)).toBe(500);
    expect(await limits.admit(d, 500)).toBe(true);
    expect(await limits.admit(d, 1)).toBe(false);
    await limits.close();
  });

  it("still reports a minute's usage once its idle lease has given back what it held", async () => {
    let clock = now();
    const store = new DeploymentAllowanceStore(database.db);
    const limits = new SharedDeploymentLimits(store, logger, () => clock);
    const d = deploymentWith("tpm: 1000, weight: 5");
    expect(await limits.admit(d, 300)).toBe(true);
    limits.settle(d, 300, 300, clock);
    // Idle past two sweeps: the unused part of its take goes back.
    clock += 5_000;
    await eventually("the idle lease given back", async () => {
      const [row] = await database.db.select().from(deploymentAllowances).where(eq(deploymentAllowances.deploymentId, d.id));
      return row?.granted === 300 ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Usage-based routing picks by it for the rest of the minute.
    expect(limits.tokensUsed(d)).toBe(300);
    await limits.close();
  });

  it("charges tokens used past a call's take once the database is back, where a failed charge let other replicas pass the tpm", async () => {
    const store = new DownStore(database.db);
    const limits = new SharedDeploymentLimits(store, logger, now);
    const d = deploymentWith("tpm: 1000, weight: 2");
    expect(await limits.admit(d, 100)).toBe(true);
    store.down = true;
    limits.settle(d, 100, 400, now());
    await new Promise((resolve) => setImmediate(resolve));
    store.down = false;
    await limits.close();
    // 400 of the minute's 1000 are used: 600 more fit, 601 do not.
    const other = new SharedDeploymentLimits(store, logger, now);
    expect(await other.admit(d, 601)).toBe(false);
    expect(await other.admit(d, 600)).toBe(true);
    await other.close();
  });

  it("gives back an idle lease once the database is back, where a failed give-back kept it from other replicas for the minute", async () => {
    const store = new DownStore(database.db);
    const limits = new SharedDeploymentLimits(store, logger, now);
    const d = deploymentWith("tpm: 1000, weight: 3");
    // Takes a tenth of the tpm and uses 10 of it.
    expect(await limits.admit(d, 10)).toBe(true);
    store.down = true;
    await limits.close();
    store.down = false;
    await limits.close();
    const other = new SharedDeploymentLimits(store, logger, now);
    expect(await other.admit(d, 990)).toBe(true);
    await other.close();
  });

  it("deletes the rows of minutes over an hour gone, and keeps the rest", async () => {
    const store = new DeploymentAllowanceStore(database.db);
    const deploymentId = "pruned-deployment";
    const minuteAgo = (minutes: number) => now() - (now() % 60_000) - minutes * 60_000;
    for (const windowStart of [minuteAgo(180), minuteAgo(30)]) await store.take({ deploymentId, kind: "requests", windowStart }, 1, 100, randomUUID());
    const rows = async () =>
      (await database.db.select({ windowStart: deploymentAllowances.windowStart }).from(deploymentAllowances).where(eq(deploymentAllowances.deploymentId, deploymentId))).map((r) => r.windowStart);
    expect(await rows()).toHaveLength(2);
    const limits = new SharedDeploymentLimits(store, logger, now);
    // Its first sweep (a second after it starts) deletes the minute three hours gone, not the one half an hour gone.
    await eventually("the old minute's row deleted", async () => ((await rows()).length === 1 ? true : undefined), 5_000);
    expect(await rows()).toEqual([minuteAgo(30)]);
    await limits.close();
  });
});
