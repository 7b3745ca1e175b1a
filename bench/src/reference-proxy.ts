import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";

// The floor the gateway is measured against: the least a Node proxy does per
// request (read and parse the JSON body, hash the key, pick the upstream,
// call it over a keep-alive pool, parse the usage out of its answer, send
// the answer on). No auth, limits, routing, ledger or metrics. Compiled to
// JavaScript and run by overhead.ts as its own process, with the upstream
// origin as its argument.

const upstream = process.argv[2] ?? "http://127.0.0.1:8000";
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on("data", (part: Buffer) => parts.push(part));
  req.on("end", () => {
    void (async () => {
      const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>;
      createHash("sha256").update(req.headers.authorization ?? "").digest("hex");
      const answer = await agent.request({
        origin: upstream,
        path: "/v1/chat/completions",
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-fake" },
        body: JSON.stringify({ ...body, model: "gpt-4o-mini" }),
      });
      const type = String(answer.headers["content-type"]);
      if (body["stream"] === true) {
        res.writeHead(answer.statusCode, { "content-type": type });
        for await (const chunk of answer.body) res.write(chunk);
        res.end();
        return;
      }
      const bytes = Buffer.from(await answer.body.arrayBuffer());
      JSON.parse(bytes.toString("utf8"));
      res.writeHead(answer.statusCode, { "content-type": type, "content-length": bytes.length });
      res.end(bytes);
    })().catch((err: unknown) => {
      res.writeHead(502).end(String(err));
    });
  });
});

server.listen(0, "127.0.0.1", () => {
  // The line processes.ts waits for.
  console.log(`reference proxy listening on 127.0.0.1:${(server.address() as AddressInfo).port}`);
});
