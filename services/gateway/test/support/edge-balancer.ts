import { Agent, fetch as undiciFetch } from "undici";

export interface EdgeBalancer {
  /** A fetch for the OpenAI SDK: requests go round-robin over the edges. */
  fetch: typeof fetch;
  /** How many responses each edge gave, by URL. */
  served: Map<string, number>;
  /**
   * Takes an edge out of rotation or puts it back, as a Kubernetes Service
   * does when a pod starts terminating or becomes ready.
   */
  remove(edge: string): void;
  add(edge: string): void;
  close(): Promise<void>;
}

/**
 * What a TCP load balancer in front of several edges does: each request on a
 * new connection to the next edge, and a connection an edge refuses (it has
 * stopped; nothing was sent) retried on the other edges.
 */
export function edgeBalancer(initial: string[]): EdgeBalancer {
  const edges = [...initial];
  // pipelining 0: no keep-alive, one connection per request.
  const agent = new Agent({ pipelining: 0 });
  const served = new Map(initial.map((edge) => [edge, 0]));
  let next = 0;
  const balanced = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const path = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    let lastError: unknown;
    for (const edge of [...edges.slice(next % edges.length), ...edges.slice(0, next++ % edges.length)]) {
      const target = new URL(path.pathname + path.search, edge);
      try {
        const res = await undiciFetch(target, { ...(init as object), dispatcher: agent });
        served.set(edge, served.get(edge)! + 1);
        return res as unknown as Response;
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code !== "ECONNREFUSED") throw err;
        lastError = err;
      }
    }
    throw lastError;
  };
  return {
    fetch: balanced as typeof fetch,
    served,
    remove: (edge) => edges.splice(edges.indexOf(edge), 1),
    add: (edge) => edges.push(edge),
    close: () => agent.close(),
  };
}
