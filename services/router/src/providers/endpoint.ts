import type { Deployment } from "../config/deployment.js";

/**
 * Memoizes what an adapter derives from a deployment (its URLs and headers),
 * so requests reuse it instead of rebuilding it. Deployments are rebuilt on
 * config reload, and the old entries go with them.
 */
export function perDeployment<T>(build: (d: Deployment) => T): (d: Deployment) => T {
  const cache = new WeakMap<Deployment, T>();
  return (d) => {
    let value = cache.get(d);
    if (value === undefined) {
      value = build(d);
      cache.set(d, value);
    }
    return value;
  };
}
