export { defaultBehavior, type Behavior } from "./behavior.js";
export { encodeEventStreamMessage } from "./event-stream.js";
export { thoughtSignature } from "./gemini.js";
export { countTokens, type RecordedRequest } from "./reply.js";
export { embed } from "./vectors.js";
export { fakeAudio } from "./speech.js";
export { startFakeProvider, type FakeProvider, type FakeProviderOptions } from "./server.js";
