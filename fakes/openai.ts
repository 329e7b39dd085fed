import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback imitation of an OpenAI-compatible server (POST /v1/chat/completions, GET /v1/models),
 * honest about what the router relies on: the completion and error envelopes, tool calls with
 * JSON-string arguments, finish reasons, usage, Bearer auth (401 when an `apiKey` is set and the
 * request carries another), and Retry-After headers on 429/5xx so the SDK's retries are real.
 *
 * Replies come from a script (a queue, consumed one per request); when it is empty the fallback
 * answers: by default the "smart" mode used by the demo and the benchmark, which calls the tool
 * best matching the user's words and then answers "Here is what I found:\n" + the tool output.
 */

export interface FakeToolCall {
  name: string;
  /** A JSON string is sent as is (malformed on purpose, if you like); an object is serialized. */
  arguments?: string | Record<string, unknown>;
  id?: string;
}

export type ScriptedReply =
  | { answer: string; finishReason?: string }
  | { toolCalls: FakeToolCall[]; content?: string }
  | { status: number; message?: string; headers?: Record<string, string> }
  /** Never answer (until the client gives up or the fake closes). */
  | { hang: true }
  /** Close the connection without answering. */
  | { drop: true }
  | ((request: ChatRequest) => ScriptedReply);

export interface ChatMessage {
  role: string;
  content?: string | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

export interface ChatTool {
  type: string;
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  tool_choice?: unknown;
  [key: string]: unknown;
}

export interface RecordedRequest {
  body: ChatRequest;
  authorization: string | undefined;
  at: number;
}

export interface FakeOpenAIOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** What answers when the script is empty. Default 'smart'. */
  fallback?: 'smart' | ScriptedReply;
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: ScriptedReply[] = [];
  private fallback: 'smart' | ScriptedReply;
  private nextId = 1;

  private constructor(
    private readonly server: http.Server,
    private readonly apiKey: string | undefined,
    fallback: 'smart' | ScriptedReply,
  ) {
    this.fallback = fallback;
  }

  static async start(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const server = http.createServer();
    const fake = new FakeOpenAI(server, options.apiKey, options.fallback ?? 'smart');
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The base URL to give the SDK (OPENAI_BASE_URL), ending in /v1 like Ollama's and vLLM's. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Queues replies, one per coming request. */
  script(...replies: ScriptedReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Sets what answers once the script is used up (e.g. a 500 storm, an endless tool loop). */
  always(reply: 'smart' | ScriptedReply): this {
    this.fallback = reply;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      // Real servers echo a masked key; echoing the full one is worse, so the router must cope.
      return this.sendError(res, 401, `Incorrect API key provided: ${String(req.headers.authorization ?? '').replace(/^Bearer /, '')}`, 'invalid_api_key');
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return this.sendJson(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model', owned_by: 'skillgate-tests' }] });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      return this.sendError(res, 404, `Unknown route ${req.method} ${url.pathname}`, 'not_found');
    }
    let body: ChatRequest;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
    } catch {
      return this.sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_json');
    }
    if (!Array.isArray(body.messages) || typeof body.model !== 'string') {
      return this.sendError(res, 400, "'model' and 'messages' are required", 'invalid_request');
    }
    if (body.stream) return this.sendError(res, 400, 'this fake does not stream', 'invalid_request');
    const request: RecordedRequest = { body, authorization: req.headers.authorization, at: Date.now() };
    this.requests.push(request);
    let reply: ScriptedReply = this.queue.shift() ?? (this.fallback === 'smart' ? smartReply : this.fallback);
    while (typeof reply === 'function') reply = reply(body);
    this.respond(res, body, reply);
  }

  private respond(res: http.ServerResponse, body: ChatRequest, reply: Exclude<ScriptedReply, Function>): void {
    if ('hang' in reply) return;
    if ('drop' in reply) {
      res.socket?.destroy();
      return;
    }
    if ('status' in reply) {
      // A short retry-after-ms keeps the SDK's real retry path fast in tests.
      const retry: Record<string, string> = reply.status === 429 || reply.status >= 500 ? { 'retry-after-ms': '5' } : {};
      return this.sendError(res, reply.status, reply.message ?? `fake error ${reply.status}`, errorType(reply.status), { ...retry, ...reply.headers });
    }
    const message =
      'answer' in reply
        ? { role: 'assistant', content: reply.answer, refusal: null }
        : {
            role: 'assistant',
            content: reply.content ?? null,
            refusal: null,
            tool_calls: reply.toolCalls.map((call) => ({
              id: call.id ?? `call_${this.nextId++}`,
              type: 'function',
              function: {
                name: call.name,
                arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
              },
            })),
          };
    const finishReason = 'answer' in reply ? (reply.finishReason ?? 'stop') : 'tool_calls';
    const promptTokens = Math.ceil(JSON.stringify(body.messages).length / 4);
    const completionTokens = Math.ceil(JSON.stringify(message).length / 4);
    this.sendJson(res, 200, {
      id: `chatcmpl-fake-${this.nextId++}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    });
  }

  private sendError(res: http.ServerResponse, status: number, message: string, type: string, headers: Record<string, string> = {}): void {
    this.sendJson(res, status, { error: { message, type, param: null, code: type } }, headers);
  }

  private sendJson(res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': `req_fake_${this.nextId++}`, ...headers });
    res.end(text);
  }
}

function errorType(status: number): string {
  if (status === 401) return 'invalid_api_key';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * The demo's and the benchmark's model: a user message gets one call to the tool that shares the
 * most words with it (by its own rule below, deliberately not the rule router's matcher, so a
 * router bug cannot hide behind an identical fake), else check_workspace_files; tool results get
 * "Here is what I found:\n" and the outputs; with no tools it echoes.
 */
export function smartReply(body: ChatRequest): ScriptedReply {
  const last = body.messages[body.messages.length - 1];
  if (last?.role === 'tool') {
    const lastAssistant = body.messages.map((m) => m.role).lastIndexOf('assistant');
    const outputs = body.messages.slice(lastAssistant + 1).filter((m) => m.role === 'tool').map((m) => m.content ?? '');
    return { answer: `Here is what I found:\n${outputs.join('\n\n')}` };
  }
  const text = typeof last?.content === 'string' ? last.content : '';
  const tools = (body.tools ?? []).filter((t) => t.type === 'function').map((t) => t.function.name);
  if (tools.length === 0 || body.tool_choice === 'none') return { answer: `You said: ${text}` };
  const chosen = toolSharingMostWords(text, tools) ?? tools.find((name) => name === 'check_workspace_files');
  if (!chosen) return { answer: `I have no tool for that. You said: ${text}` };
  return { toolCalls: [{ name: chosen, arguments: {} }] };
}

/**
 * The tool whose name's words (split at "_") occur most often among the message's words, plural
 * "s" ignored; the first listed wins a tie; undefined when no tool shares a word of 3+ letters.
 */
export function toolSharingMostWords(text: string, tools: readonly string[]): string | undefined {
  const words = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length >= 3).map((w) => w.replace(/s$/, ''));
  const said = new Set(words(text));
  let best: { name: string; shared: number } | undefined;
  for (const name of tools) {
    const shared = words(name.replace(/_/g, ' ')).filter((w) => said.has(w)).length;
    if (shared > 0 && (!best || shared > best.shared)) best = { name, shared };
  }
  return best?.name;
}
