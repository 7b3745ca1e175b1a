import type { MessageInitShape } from "@bufbuild/protobuf";
import { CallType, type CheckHealthRequest, type CheckHealthResponseSchema, type EndpointHealthSchema } from "@gateway/proto/router/v1/router_pb.js";
import { CALL_HANDLERS } from "../calls.js";
import { splitModel, type Deployment } from "../config/deployment.js";
import type { LiveModelList } from "../model-list.js";
import type { Outcome } from "../outcome.js";
import { withoutCredentials } from "./sealed-params.js";

type EndpointHealth = MessageInitShape<typeof EndpointHealthSchema>;

// A probe is one tiny request; a deployment slower than this to say "hi" is not healthy.
const PROBE_TIMEOUT_MS = 60_000;

/** The deployment a probe calls: a wildcard one needs model_info.health_check_model, as in LiteLLM. */
function probeTarget(d: Deployment): Deployment | string {
  if (!d.providerModel.includes("*")) return d;
  const model = d.entry.model_info?.["health_check_model"];
  if (typeof model !== "string") return "wildcard deployment: set model_info.health_check_model to probe it";
  return { ...d, providerModel: splitModel(model).providerModel };
}

/** A tenth of a second of silence, as a WAV file (16-bit mono PCM at 8 kHz): what a transcription probe sends. */
function silentWav(): Buffer {
  const samples = 800;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write("RIFF", 0, "latin1");
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write("WAVEfmt ", 8, "latin1");
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(8000, 24);
  wav.writeUInt32LE(16000, 28); // bytes a second
  wav.writeUInt16LE(2, 32); // bytes a sample
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36, "latin1");
  wav.writeUInt32LE(samples * 2, 40);
  return wav;
}

/** The smallest call of the kind a deployment's mode says it serves (LiteLLM's model_info.mode): chat unless it says otherwise. */
function probeCall(d: Deployment): [CallType, Record<string, unknown>] {
  if (d.mode === "embedding") return [CallType.EMBEDDINGS, { model: d.modelGroup, input: "ping" }];
  if (d.mode === "image_generation") return [CallType.IMAGE_GENERATIONS, { model: d.modelGroup, prompt: "ping", n: 1 }];
  if (d.mode === "audio_speech") return [CallType.AUDIO_SPEECH, { model: d.modelGroup, input: "ping", voice: "alloy" }];
  if (d.mode === "audio_transcription") return [CallType.AUDIO_TRANSCRIPTIONS, { model: d.modelGroup, file: new File([silentWav()], "ping.wav", { type: "audio/wav" }) }];
  if (d.mode === "moderation") return [CallType.MODERATIONS, { model: d.modelGroup, input: "ping" }];
  return [CallType.CHAT_COMPLETIONS, { model: d.modelGroup, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }];
}

/** Calls the deployment the way clients do; the error, if it failed. */
async function probe(d: Deployment): Promise<string | undefined> {
  const target = probeTarget(d);
  if (typeof target === "string") return target;
  const [callType, body] = probeCall(d);
  const handler = CALL_HANDLERS.get(callType)!;
  const outcome: Outcome = { deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined };
  const signal = AbortSignal.timeout(Math.min(d.timeoutMs, PROBE_TIMEOUT_MS));
  try {
    const events = handler.run({ deployment: target, body, signal, headers: {} }, outcome);
    if (events instanceof Promise) await events;
    else for await (const _event of events);
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  }
}

/** GET /health: probes every deployment (of one group, when asked) at once. */
export async function checkHealth(models: LiveModelList, req: CheckHealthRequest): Promise<MessageInitShape<typeof CheckHealthResponseSchema>> {
  const deployments = models.table().groups.all().filter((d) => req.model === "" || d.modelGroup === req.model);
  const results = await Promise.all(
    deployments.map(async (d): Promise<[EndpointHealth, boolean]> => {
      const error = await probe(d);
      const endpoint = { modelGroup: d.modelGroup, deploymentId: d.id, model: d.entry.litellm_params.model, apiBase: d.apiBase ? withoutCredentials(d.apiBase) : "", error: error ?? "" };
      return [endpoint, error === undefined];
    }),
  );
  return { healthy: results.filter(([, ok]) => ok).map(([e]) => e), unhealthy: results.filter(([, ok]) => !ok).map(([e]) => e) };
}
