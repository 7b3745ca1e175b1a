import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type CallOptions, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { LightAbortController } from "./light-abort-controller.js";

const NEVER = new LightAbortController().signal;
const NO_HEADERS = new Headers();

/**
 * A handler's context that makes nothing the handler does not ask for: the
 * deadline timers, linked controllers and three Headers objects that
 * createHandlerContext builds per call cost more than most handlers. Used
 * for calls in one process ("direct") and for the calls h2-handlers.ts
 * serves ("connect").
 */
export class CallContext implements HandlerContext {
  readonly requestMethod = "POST";
  private requestHeaders: Headers | undefined;
  private header: Headers | undefined;
  private trailer: Headers | undefined;
  private contextValues: ContextValues | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly options: CallOptions | undefined,
    readonly protocolName: string,
  ) {}

  get signal(): AbortSignal {
    return this.options?.signal ?? NEVER;
  }

  timeoutMs(): number | undefined {
    return this.options?.timeoutMs;
  }

  get requestHeader(): Headers {
    return (this.requestHeaders ??= this.options?.headers ? new Headers(this.options.headers) : NO_HEADERS);
  }

  get responseHeader(): Headers {
    return (this.header ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.trailer ??= new Headers());
  }

  /** The response headers the handler set, if it set any. */
  responseHeaderIfAny(): Headers | undefined {
    return this.header;
  }

  /** The response trailers the handler set, if it set any. */
  responseTrailerIfAny(): Headers | undefined {
    return this.trailer;
  }

  get values(): ContextValues {
    return (this.contextValues ??= this.options?.contextValues ?? createContextValues());
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }
}
