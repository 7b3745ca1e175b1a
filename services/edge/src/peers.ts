import type { Client } from "@connectrpc/connect";
import type { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RouterService } from "@gateway/proto/router/v1/router_pb.js";

/**
 * The services the edge talks to. In one process these call the
 * implementations directly; split, they are Connect clients over HTTP/2.
 */
export interface Peers {
  keys: Client<typeof KeysService>;
  router: Client<typeof RouterService>;
  accounting: Client<typeof AccountingService>;
}
