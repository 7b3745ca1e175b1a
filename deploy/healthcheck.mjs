// The container's HEALTHCHECK: asks the service in this container whether it
// is ready. Every service answers /health/readiness over HTTP/1.1 on its port
// (the Connect services next to their HTTP/2 RPCs); an edge serving TLS
// itself is asked over HTTPS, without verifying its own certificate.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const port = Number(process.env.PORT ?? 4000);
const tls = Boolean(process.env.SSL_CERTFILE_PATH);
const request = tls ? httpsRequest : httpRequest;
const req = request({ host: "127.0.0.1", port, path: "/health/readiness", rejectUnauthorized: false, timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timed out")));
req.on("error", (err) => {
  console.error(`health check failed: ${err.message}`);
  process.exit(1);
});
req.end();
