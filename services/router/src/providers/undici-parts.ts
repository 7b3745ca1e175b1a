import { createRequire } from "node:module";
import type { Dispatcher, Agent as UndiciAgent, errors as undiciErrors } from "undici";

// undici's entry module loads all it offers (fetch, WebSocket, caches, mock
// agents, interceptors): about 19 MB of a process's memory, where the
// router uses one Agent, its request() and two error classes. Loading
// those three modules alone takes about 10 MB. undici's version is pinned,
// and every provider test calls through them.
const require = createRequire(import.meta.url);

export const Agent: typeof UndiciAgent = require("undici/lib/dispatcher/agent.js");
export const errors: typeof undiciErrors = require("undici/lib/core/errors.js");
const requestOn: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData> = require("undici/lib/api/api-request.js");

/** `dispatcher.request(options)`: undici's entry module adds it to every dispatcher; loaded alone, it is called this way. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestOn.call(dispatcher, options);
}
