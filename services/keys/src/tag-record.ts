import { create } from "@bufbuild/protobuf";
import { TagSchema, type Tag } from "@gateway/proto/keys/v1/keys_pb.js";
import type { tags } from "./db/schema.js";
import { holdsLimits, limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
import type { TableCache } from "./table-cache.js";

export type TagRow = typeof tags.$inferSelect;

/** A tag as the hot path needs it: its limits, or null when it sets none. */
export type TagRecord = LimitHolder | null;

/** Every tag, on every keys replica. */
export type TagCache = TableCache<TagRow, TagRecord>;

/** Live subject on which a tag change is pushed to every keys replica. */
export const TAGS_CHANGED_SUBJECT = "keys.tags_changed";

/** As teamAllowanceId: apart from keys', and for each tag made under the same name. */
export const tagAllowanceId = (row: Pick<TagRow, "name" | "createdAt">) => `tag/${row.name}@${row.createdAt.getTime()}`;

/** A tag's limits, as Limits reads them. */
export function tagLimits(row: TagRow): LimitHolder {
  return limitHolder(row.name, tagAllowanceId(row), "tag", row);
}

export function toTagRecord(row: TagRow): TagRecord {
  const limits = tagLimits(row);
  return holdsLimits(limits) ? limits : null;
}

/** A tag as management calls show it; `spend` is its budget period's, for a tag with a budget. */
export function toTagProto(row: TagRow, now = Date.now(), spend?: number): Tag {
  return create(TagSchema, {
    name: row.name,
    description: row.description ?? "",
    models: row.models,
    ...limitFields(row, tagLimits(row), now),
    ...(row.softBudget !== null && { softBudget: row.softBudget }),
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
  });
}
