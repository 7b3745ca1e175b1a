import type { KeyObject } from "node:crypto";

/** A Vertex AI service account whose token the fake provider hands out at its /token endpoint, signed with `privateKey`, as config.yaml's JSON. */
export function vertexServiceAccount(fakeUrl: string, privateKey: KeyObject): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "test-project",
    private_key_id: "kid-1",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: "gateway@test-project.iam.gserviceaccount.com",
    token_uri: `${fakeUrl}/token`,
  });
}
