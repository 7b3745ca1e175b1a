import { describe, expect, it } from "vitest";
import { filesCall, ObjectIds, ownerOf } from "../src/index.js";

const ids = new ObjectIds("sk-master");
const ref = { model: "batch-model", deployment: "dep-1", id: "file-abc123" };
const team = ownerOf({ teamId: "team-a", userId: "u1", keyHash: "h1" });

describe("ObjectIds", () => {
  it("gives the same object the same id, and reads back what it sealed", () => {
    const id = ids.mint("file", ref, team);
    expect(id).toMatch(/^file-[\w-]+$/);
    expect(ids.mint("file", ref, team)).toBe(id);
    expect(id).not.toContain("abc123");
    const read = ids.read("file", id)!;
    expect({ model: read.model, deployment: read.deployment, id: read.id }).toEqual(ref);
    expect(ObjectIds.ownedBy(read, team)).toBe(true);
  });

  it("binds an id to its owner: the team's keys share it, another team's and a user's do not", () => {
    const read = ids.read("file", ids.mint("file", ref, team))!;
    expect(ObjectIds.ownedBy(read, ownerOf({ teamId: "team-a", userId: "u2", keyHash: "h2" }))).toBe(true);
    expect(ObjectIds.ownedBy(read, ownerOf({ teamId: "team-b", userId: "u1", keyHash: "h1" }))).toBe(false);
    expect(ObjectIds.ownedBy(read, ownerOf({ teamId: "", userId: "u1", keyHash: "h1" }))).toBe(false);
  });

  it("reads no id it did not give: another secret's, another kind's, an altered one, a provider's", () => {
    const id = ids.mint("batch", ref, team);
    expect(new ObjectIds("another").read("batch", id)).toBeUndefined();
    expect(ids.read("file", id)).toBeUndefined();
    expect(ids.read("batch", `batch_${id.slice(6).replace(/^./, (c) => (c === "A" ? "B" : "A"))}`)).toBeUndefined();
    expect(ids.read("batch", "batch_abc123")).toBeUndefined();
    expect(ids.read("file", "file-abc123")).toBeUndefined();
  });

  it("owners: the team, else the user, else the key", () => {
    expect(ownerOf({ teamId: "t", userId: "u", keyHash: "k" })).toBe("team:t");
    expect(ownerOf({ teamId: "", userId: "u", keyHash: "k" })).toBe("user:u");
    expect(ownerOf({ teamId: "", userId: "", keyHash: "k" })).toBe("key:k");
  });
});

describe("filesCall", () => {
  it("names each route's call and id, with or without /v1", () => {
    expect(filesCall("POST", "/v1/files")).toEqual({ operation: "upload" });
    expect(filesCall("GET", "/files")).toEqual({ operation: "list_files" });
    expect(filesCall("GET", "/v1/files/file-x/content")).toEqual({ operation: "file_content", id: { kind: "file", value: "file-x" } });
    expect(filesCall("DELETE", "/v1/files/file-x")).toEqual({ operation: "delete_file", id: { kind: "file", value: "file-x" } });
    expect(filesCall("POST", "/batches/batch_x/cancel")).toEqual({ operation: "cancel_batch", id: { kind: "batch", value: "batch_x" } });
    expect(filesCall("GET", "/v1/batches/batch_x")).toEqual({ operation: "retrieve_batch", id: { kind: "batch", value: "batch_x" } });
    expect(filesCall("PUT", "/v1/files")).toBeUndefined();
    expect(filesCall("GET", "/v1/files/a/b")).toBeUndefined();
  });
});
