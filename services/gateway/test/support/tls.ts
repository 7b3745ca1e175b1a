import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { eventually } from "@gateway/testing";
import { Agent, fetch as undiciFetch } from "undici";

const CADDYFILE = fileURLToPath(new URL("../../../../deploy/Caddyfile", import.meta.url));

export interface Certificate {
  keyPath: string;
  certPath: string;
  cert: Buffer;
  remove(): void;
}

/** A throwaway self-signed certificate for localhost and 127.0.0.1, made with openssl. */
export async function selfSignedCertificate(): Promise<Certificate> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-tls-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  return { keyPath, certPath, cert: readFileSync(certPath), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fetch for the OpenAI SDK that trusts exactly the given CA certificate. */
export function fetchTrusting(ca: Buffer | undefined): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent({ connect: ca ? { ca } : {} });
  const trusting = (input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input instanceof Request ? input.url : input, { ...(init as object), dispatcher: agent });
  return { fetch: trusting as unknown as typeof fetch, close: () => agent.close() };
}

/** A port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningCaddy {
  /** https://localhost:<port> */
  url: string;
  /** The root certificate of Caddy's internal CA, which signed the site's certificate. */
  rootCertificate: Buffer;
  close(): Promise<void>;
}

/**
 * Runs the Debian caddy with deploy/Caddyfile as shipped, in front of the
 * given edges, with its internal CA ("tls internal") and all its state in a
 * temporary directory; ports, admin API and trust-store changes are turned
 * off through the file's CADDY_GLOBAL_OPTIONS.
 */
export async function startCaddy(edges: string[]): Promise<RunningCaddy> {
  const home = mkdtempSync(join(tmpdir(), "gateway-caddy-"));
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const url = `https://localhost:${httpsPort}`;
  const child = spawn("caddy", ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: home,
      XDG_DATA_HOME: join(home, "data"),
      XDG_CONFIG_HOME: join(home, "config"),
      GATEWAY_DOMAIN: url,
      GATEWAY_TLS: "tls internal",
      EDGE_UPSTREAMS: edges.join(" "),
      CADDY_GLOBAL_OPTIONS: ["admin off", "skip_install_trust", "auto_https disable_redirects", `http_port ${httpPort}`, `https_port ${httpsPort}`].join("\n"),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (data: Buffer) => (log += data.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    child.kill("SIGTERM");
    await exited;
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const rootPath = join(home, "data", "caddy", "pki", "authorities", "local", "root.crt");
    const rootCertificate = await eventually(`caddy to serve ${url}`, async () => {
      if (child.exitCode !== null) throw new Error(`caddy exited (${child.exitCode}):\n${log}`);
      let root: Buffer;
      try {
        root = readFileSync(rootPath);
      } catch {
        return undefined;
      }
      const probe = fetchTrusting(root);
      try {
        const res = await probe.fetch(`${url}/health/liveliness`);
        return res.status === 200 ? root : undefined;
      } catch {
        return undefined;
      } finally {
        await probe.close();
      }
    }, 30_000);
    return { url, rootCertificate, close };
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}; caddy's log:\n${log}`);
  }
}
