export { defaultBehavior, type Behavior } from "./behavior.js";
export { countTokens, type RecordedRequest } from "./openai.js";
export { startFakeProvider, type FakeProvider, type FakeProviderOptions } from "./server.js";
