import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// Management calls racing one another on the real Postgres, as a fuzzing
// session found them: each race ends as the same calls made one after the
// other would (one winner, the others told the key or team is gone), and
// what the answers say holds for model calls.

describe("management calls racing", () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(MODES[0]!, fakeOpenAIConfig, (setup) => ({ gateway } = setup));

  const call = (path: string, body: unknown) => admin<Record<string, unknown>>(gateway.baseUrl, "POST", path, body);
  const chat = (key: string) =>
    new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }).then(
      () => 200,
      (err: { status?: number }) => err.status,
    );

  it("regenerates a key once when many ask at once: one new key, which works; the others are told it is gone", async () => {
    const { json: old } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", {});
    const answers = await Promise.all(Array.from({ length: 12 }, () => call("/key/regenerate", { key: old.key })));
    const made = answers.filter((a) => a.status === 200);
    expect(made).toHaveLength(1);
    for (const other of answers.filter((a) => a.status !== 200)) expect(other.status).toBe(404);
    expect(await chat(made[0]!.json["key"] as string)).toBe(200);
    expect(await chat(old.key)).toBe(401);
  });

  it("lets a regeneration and a deletion of one key race to one winner: never a new key that is already gone", async () => {
    for (let round = 0; round < 8; round++) {
      const { json: old } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", {});
      const [regenerated, deleted] = await Promise.all([call("/key/regenerate", { key: old.key }), call("/key/delete", { keys: [old.key] })]);
      expect([regenerated.status, deleted.status].sort(), `round ${round}`).toEqual([200, 404]);
      if (regenerated.status === 200) expect(await chat(regenerated.json["key"] as string), `round ${round}`).toBe(200);
      expect(await chat(old.key)).toBe(401);
    }
    // Many deletions of one key: one deletes it, the rest find it gone.
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", {});
    const deletions = await Promise.all(Array.from({ length: 12 }, () => call("/key/delete", { keys: [key.key] })));
    expect(deletions.filter((d) => d.status === 200)).toHaveLength(1);
    expect(deletions.filter((d) => d.status === 404)).toHaveLength(11);
  });

  it("deletes a team with every key made for it meanwhile, or refuses the key: none is left naming a team that is gone", async () => {
    for (let round = 0; round < 5; round++) {
      const teamId = (await call("/team/new", {})).json["team_id"] as string;
      const answers = await Promise.all([...Array.from({ length: 12 }, () => call("/key/generate", { team_id: teamId })), call("/team/delete", { team_ids: [teamId] })]);
      expect(answers.at(-1)!.status).toBe(200);
      for (const made of answers.slice(0, -1)) {
        if (made.status !== 200) {
          expect(made.status, `round ${round}`).toBe(400);
          continue;
        }
        const key = made.json["key"] as string;
        expect((await admin(gateway.baseUrl, "GET", `/key/info?key=${key}`)).status, `round ${round}`).toBe(404);
        expect(await chat(key)).toBe(401);
      }
    }
  });
});
