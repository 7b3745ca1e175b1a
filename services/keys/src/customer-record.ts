import { create } from "@bufbuild/protobuf";
import { CustomerSchema, type Customer } from "@gateway/proto/keys/v1/keys_pb.js";
import type { customers } from "./db/schema.js";
import { holdsLimits, limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
import type { TableCache } from "./table-cache.js";

export type CustomerRow = typeof customers.$inferSelect;

/** A customer as the hot path needs it: whether it is blocked, and its limits (null when it sets none). */
export interface CustomerRecord {
  blocked: boolean;
  limits: LimitHolder | null;
}

/** Every customer, on every keys replica. */
export type CustomerCache = TableCache<CustomerRow, CustomerRecord>;

/** Live subject on which a customer change is pushed to every keys replica. */
export const CUSTOMERS_CHANGED_SUBJECT = "keys.customers_changed";

/** As teamAllowanceId: apart from keys', and for each customer made under the same id. */
export const customerAllowanceId = (row: Pick<CustomerRow, "userId" | "createdAt">) => `customer/${row.userId}@${row.createdAt.getTime()}`;

/** A customer's limits, as Limits reads them. */
export function customerLimits(row: CustomerRow): LimitHolder {
  return limitHolder(row.userId, customerAllowanceId(row), "customer", row);
}

export function toCustomerRecord(row: CustomerRow): CustomerRecord {
  const limits = customerLimits(row);
  return { blocked: row.blocked, limits: holdsLimits(limits) ? limits : null };
}

/** A customer as management calls show it; `spend` is its budget period's, for a customer with a budget. */
export function toCustomerProto(row: CustomerRow, now = Date.now(), spend?: number): Customer {
  return create(CustomerSchema, {
    userId: row.userId,
    alias: row.alias ?? "",
    blocked: row.blocked,
    ...limitFields(row, customerLimits(row), now),
    budgetId: row.budgetId ?? "",
    allowedModelRegion: row.allowedModelRegion ?? "",
    defaultModel: row.defaultModel ?? "",
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
  });
}
