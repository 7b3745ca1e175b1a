import { Code } from "@connectrpc/connect";
import { END_USER_MAX_CHARS, gatewayError, pgErrorCode, type Db } from "@gateway/common";
import type { CreateCustomerRequest, Customer, DeleteCustomersRequest, GetCustomerRequest, ListCustomersRequest, UpdateCustomerRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { customerAllowanceId, customerLimits, toCustomerProto, type CustomerRow } from "../customer-record.js";
import { withKnownBudget } from "./budgets.js";
import { carrySpend } from "./carry-spend.js";
import type { AdminDeps } from "./context.js";
import { customerSettingsPatch } from "./settings.js";
import { viewsWithSpend } from "./views.js";

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** LiteLLM's words for an end user it does not know. */
function notFound(userIds: string[], param: string): Error {
  const which = userIds.length === 1 ? `End User Id=${userIds[0]} does` : `End User Id(s)=${userIds.join(", ")} do`;
  return gatewayError(`${which} not exist in db`, Code.NotFound, { type: "not_found_error", param });
}

/** The end users named, each once. */
function requireIds(userIds: string[]): string[] {
  if (userIds.length === 0 || userIds.some((id) => id === "")) throw invalid("user_ids must name at least one end user", "user_ids");
  return [...new Set(userIds)];
}

const customerViews = (deps: AdminDeps, rows: CustomerRow[]): Promise<Customer[]> => viewsWithSpend(deps, rows, customerLimits, toCustomerProto);

async function customerView(deps: AdminDeps, row: CustomerRow): Promise<Customer> {
  const [view] = await customerViews(deps, [row]);
  return view as Customer;
}

async function existing(deps: AdminDeps, userId: string, param: string): Promise<CustomerRow> {
  if (userId === "") throw invalid(`${param} is required`, param);
  const row = await deps.customerStore.byId(userId);
  if (!row) throw notFound([userId], param);
  return row;
}

export async function createCustomer(deps: AdminDeps, req: CreateCustomerRequest): Promise<{ customer: Customer }> {
  if (req.userId === "") throw invalid("user_id is required", "user_id");
  // Requests name at most this much of an end user.
  if (req.userId.length > END_USER_MAX_CHARS) throw invalid(`user_id must be at most ${END_USER_MAX_CHARS} characters`, "user_id");
  const patch = customerSettingsPatch(req.settings);
  const insert = () => deps.customerStore.insert({ userId: req.userId, ...patch });
  const row = await withKnownBudget(patch.budgetId, insert).catch((err: unknown) => {
    if (pgErrorCode(err) === "23505") throw invalid(`Customer already exists, passed user_id=${req.userId}. Please pass a new user_id.`, "user_id");
    throw err;
  });
  await deps.customers.changed([row.userId]);
  return { customer: await customerView(deps, row) };
}

export async function updateCustomer(deps: AdminDeps, req: UpdateCustomerRequest): Promise<{ customer: Customer }> {
  const current = await existing(deps, req.userId, "user_id");
  const patch = customerSettingsPatch(req.settings);
  const carry = (tx: Db, row: CustomerRow) => carrySpend(deps.allowances.in(tx), customerLimits(current), customerLimits(row), req.spendBefore);
  const row = await withKnownBudget(patch.budgetId, () => deps.customerStore.update(current.userId, patch, carry));
  if (!row) throw notFound([req.userId], "user_id");
  await deps.customers.changed([row.userId]);
  return { customer: await customerView(deps, row) };
}

export async function getCustomer(deps: AdminDeps, req: GetCustomerRequest): Promise<{ customer: Customer }> {
  return { customer: await customerView(deps, await existing(deps, req.userId, "end_user_id")) };
}

/** Every customer, or those on the budget the request names. */
export async function listCustomers(deps: AdminDeps, req: ListCustomersRequest): Promise<{ customers: Customer[] }> {
  return { customers: await customerViews(deps, await deps.customerStore.all(req.budgetId)) };
}

/** The ids, each naming a customer; otherwise a 404 naming those that do not. */
async function allExisting(deps: AdminDeps, ids: string[]): Promise<string[]> {
  const userIds = requireIds(ids);
  const found = await Promise.all(userIds.map((id) => deps.customerStore.byId(id)));
  const missing = userIds.filter((_, i) => !found[i]);
  if (missing.length > 0) throw notFound(missing, "user_ids");
  return userIds;
}

/** Deletes the customers and their limits' state; every one named must exist, or nothing is deleted. */
export async function deleteCustomers(deps: AdminDeps, req: DeleteCustomersRequest): Promise<{ deletedUserIds: string[] }> {
  const userIds = await allExisting(deps, req.userIds);
  const deleted = await deps.customerStore.delete(userIds);
  await deps.customers.changed(userIds);
  await deps.allowances.forget(deleted.map(customerAllowanceId));
  return { deletedUserIds: deleted.map((row) => row.userId) };
}

/** Blocks (making customers of end users not yet known, as LiteLLM does) or unblocks customers that exist. */
export async function setCustomersBlocked(deps: AdminDeps, userIds: string[], blocked: boolean): Promise<{ customers: Customer[] }> {
  const ids = blocked ? requireIds(userIds) : await allExisting(deps, userIds);
  const rows = await deps.customerStore.setBlocked(ids, blocked);
  await deps.customers.changed(ids);
  return { customers: await customerViews(deps, rows) };
}
