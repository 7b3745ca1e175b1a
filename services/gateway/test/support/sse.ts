import { MASTER_KEY } from "./config.js";

export interface OpenStream {
  requestId: string;
  /** Resolves once the first event has arrived. */
  firstEvent: Promise<void>;
  /** Everything received, and whether the connection broke before the body's end. */
  finished: Promise<{ text: string; broken: boolean }>;
}

/** Starts a streamed chat completion and reads its raw server-sent events. */
export async function openChatStream(baseUrl: string, content: string): Promise<OpenStream> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "fast-model", stream: true, messages: [{ role: "user", content }] }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let sawEvent!: () => void;
  const firstEvent = new Promise<void>((resolve) => (sawEvent = resolve));
  const finished = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { text, broken: false };
        text += value;
        if (text.includes("data: ")) sawEvent();
      }
    } catch {
      return { text, broken: true };
    } finally {
      sawEvent();
    }
  })();
  return { requestId: res.headers.get("x-litellm-call-id") ?? "", firstEvent, finished };
}

/** The assistant text carried by a stream's chunks. */
export function streamedContent(text: string): string {
  let content = "";
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: {")) continue;
    const chunk = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[] };
    content += chunk.choices?.[0]?.delta?.content ?? "";
  }
  return content;
}
