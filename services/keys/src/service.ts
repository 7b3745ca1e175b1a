import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import { AuthorizeResponseSchema, KeysService, ReleaseResponseSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { MasterKey } from "./master-key.js";

export interface KeysDeps {
  masterKey: MasterKey;
}

export function invalidKey(): Error {
  return gatewayError("Authentication Error, invalid API key", Code.Unauthenticated, {
    type: "authentication_error",
    code: "invalid_api_key",
  });
}

export function createKeysService(deps: KeysDeps): ServiceImpl<typeof KeysService> {
  const masterResponse = create(AuthorizeResponseSchema, { keyHash: deps.masterKey.hash, isMaster: true, keyAlias: "master" });
  const released = create(ReleaseResponseSchema);
  return {
    authorize(req) {
      if (req.apiKey === "") {
        throw gatewayError("No API key provided; send it as 'Authorization: Bearer <key>'", Code.Unauthenticated, {
          type: "authentication_error",
          code: "missing_api_key",
        });
      }
      // Only the master key exists so far, so management calls need no check of their own.
      if (deps.masterKey.matchesHash(hashKey(req.apiKey))) return masterResponse;
      throw invalidKey();
    },
    release() {
      return released;
    },
  };
}

export const keysRoutes = (impl: ServiceImpl<typeof KeysService>) => (router: ConnectRouter) =>
  router.service(KeysService, impl);
