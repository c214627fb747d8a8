'use strict';
// faas's in-container runtime for Node.js functions (`lang: node`): the same contract as the
// Python runtime in faas/runtime (read its docstrings for the why). Node's standard library only.
//
// - The handler is `module.function` (FAAS_HANDLER, default handler.handle): `handler.js`
//   (CommonJS, or ES module through import()) exporting `handle(event, context)`, which may
//   return a value or a Promise of one.
// - Return coercion: string -> text/plain, Buffer/Uint8Array -> application/octet-stream,
//   null/undefined -> 204, an object with `statusCode` -> that response (headers,
//   multiValueHeaders, body, isBase64Encoded), anything else -> JSON. A value that cannot be
//   sent is a 500 `bad_return`; a throw or rejection a 500 `handler_error`; both carry
//   X-Faas-Function-Error.
// - Every line written during a call is prefixed `[<call id>] ` (AsyncLocalStorage follows the
//   call through awaits and timers).
// - Init failures print the stack, then one line {"faas_init_error": {code, message}} on stderr,
//   and exit with the Python runtime's statuses.
// - Wire protocol: HTTP/1.1 on FAAS_SOCKET (a Unix socket) or FAAS_PORT: `<METHOD> /call<path>`
//   with x-call-id and x-faas-timeout-ms, `GET /_/health`; responses carry Content-Length and
//   X-Faas-Handler-Ms. Generic mode (`POST /_/load`) is not implemented: 501.
//
// As in the Python runtime the socket is bound before any of the function's code runs (with
// FAAS_SOCKET_SEALED=1 the gateway then closes its folder) but listens only once the handler is
// loaded: a connection is refused until then, and "accepts connections" means "ready". Node's
// public API cannot bind without listening, so the socket is bound through its pipe_wrap
// binding and then served with `listen({fd})`; where that binding is missing, the runtime
// listens first and a call that arrives while it loads waits for the load.

const fs = require('fs');
const http = require('http');
const path = require('path');
const { AsyncLocalStorage } = require('async_hooks');
const { pathToFileURL } = require('url');

const IMPORT_MODULE_ERROR = 'Runtime.ImportModuleError';
const USER_CODE_SYNTAX_ERROR = 'Runtime.UserCodeSyntaxError';
const HANDLER_NOT_FOUND = 'Runtime.HandlerNotFound';
const INIT_ERROR = 'Runtime.InitError';
const INIT_EXIT_STATUS = {
  [IMPORT_MODULE_ERROR]: 3,
  [USER_CODE_SYNTAX_ERROR]: 3,
  [HANDLER_NOT_FOUND]: 4,
  [INIT_ERROR]: 5,
};
const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const BINARY_TYPE = 'application/octet-stream';
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'trailers', 'transfer-encoding', 'upgrade', 'content-length',
]);
const DEFAULT_MAX_BODY = 6 * 1024 * 1024;
const SEAL_TIMEOUT_MS = 30000;

// --- Logs -------------------------------------------------------------------------------------

const currentCall = new AsyncLocalStorage(); // the store is the call id

function tagStream(stream) {
  const write = stream.write.bind(stream);
  const pending = new Map(); // call id -> its unfinished line on this stream
  stream.write = (chunk, encoding, callback) => {
    const callId = currentCall.getStore();
    if (callId === undefined) return write(chunk, encoding, callback);
    if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
    const text = (pending.get(callId) || '') +
      (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(encoding || 'utf8'));
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      pending.set(callId, text);
      if (callback) process.nextTick(callback);
      return true;
    }
    pending.set(callId, text.slice(end + 1));
    const prefix = `[${callId}] `;
    return write(prefix + text.slice(0, end).split('\n').join('\n' + prefix) + '\n', callback);
  };
  // The end of a call: its partial line goes out, ended and tagged.
  return (callId) => {
    const rest = pending.get(callId);
    pending.delete(callId);
    if (rest) write(`[${callId}] ${rest}\n`);
  };
}

const endCallOutput = [tagStream(process.stdout), tagStream(process.stderr)];

// --- Event and Context --------------------------------------------------------------------------

class Event {
  constructor({ method = 'GET', path: p = '/', queryList = {}, headers = {}, body } = {}) {
    this.method = method;
    this.path = p;
    this.queryList = queryList;
    this.query = {}; // last value wins, as in the Python runtime; queryList keeps them all
    for (const [key, values] of Object.entries(queryList)) this.query[key] = values[values.length - 1];
    this.headers = {};
    for (const [key, value] of Object.entries(headers)) this.headers[key.toLowerCase()] = value;
    this.body = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  }

  text() {
    return this.body.toString('utf8');
  }

  json() {
    return JSON.parse(this.text());
  }
}

class Context {
  constructor({ functionName = 'function', callId = '', cold = false, timeoutMs = null, received } = {}) {
    this.functionName = functionName;
    this.callId = callId;
    this.cold = cold; // true on the first call since the handler was loaded
    this.timeoutMs = timeoutMs;
    const start = received === undefined ? performance.now() : received;
    this._deadline = timeoutMs === null ? null : start + timeoutMs;
  }

  remainingMs() {
    if (this._deadline === null) return Infinity;
    return Math.max(0, this._deadline - performance.now());
  }
}

// --- Calling the handler ------------------------------------------------------------------------

class BadReturn extends Error {}

function describe(error) {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return `thrown value: ${String(error)}`;
}

function errorResponse(status, code, message, extra = []) {
  const body = Buffer.from(JSON.stringify({ error: { code, message } }));
  return [status, [['Content-Type', JSON_TYPE], ...extra], body];
}

async function invoke(handler, event, context) {
  return currentCall.run(context.callId, async () => {
    const start = performance.now();
    let response;
    try {
      const result = await handler(event, context);
      response = coerceResponse(result);
    } catch (error) {
      console.error(error instanceof Error && error.stack ? error.stack : describe(error));
      response = errorResponse(500, 'handler_error', describe(error), [['X-Faas-Function-Error', 'Unhandled']]);
    } finally {
      for (const end of endCallOutput) end(context.callId);
    }
    response[1].push(['X-Faas-Handler-Ms', (performance.now() - start).toFixed(3)]);
    return response;
  });
}

function coerceResponse(value) {
  try {
    if (isPlainObject(value) && 'statusCode' in value) return coerceShaped(value);
    if (value === null || value === undefined) return [204, [], Buffer.alloc(0)];
    const [body, type] = encodeBody(value);
    return [200, [['Content-Type', type]], body];
  } catch (error) {
    if (!(error instanceof BadReturn)) throw error;
    return errorResponse(500, 'bad_return', error.message, [['X-Faas-Function-Error', 'BadReturn']]);
  }
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function encodeBody(value) {
  if (typeof value === 'string') return [Buffer.from(value, 'utf8'), TEXT_TYPE];
  if (ArrayBuffer.isView(value)) return [Buffer.from(value.buffer, value.byteOffset, value.byteLength), BINARY_TYPE];
  if (value instanceof ArrayBuffer) return [Buffer.from(value), BINARY_TYPE];
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new BadReturn(`handler returned a value that is not JSON-serialisable (${error.message})`);
  }
  if (text === undefined) {
    throw new BadReturn(`handler returned a ${typeof value}, which is not JSON-serialisable; ` +
      'return a string, a Buffer, null, a JSON-serialisable value or an object with statusCode');
  }
  return [Buffer.from(text), JSON_TYPE];
}

function coerceShaped(value) {
  const status = value.statusCode;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadReturn(`statusCode must be an integer from 200 to 599, got ${JSON.stringify(status)}`);
  }
  const headers = userHeaders(value.headers, value.multiValueHeaders);
  const body = value.body;
  if (status === 204 || status === 304 || body === null || body === undefined) return [status, headers, Buffer.alloc(0)];
  let data, defaultType;
  if (typeof body === 'string' && value.isBase64Encoded) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.replace(/\s/g, ''))) {
      throw new BadReturn('isBase64Encoded is true but body is not base64');
    }
    [data, defaultType] = [Buffer.from(body, 'base64'), BINARY_TYPE];
  } else {
    [data, defaultType] = encodeBody(body);
  }
  if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['Content-Type', defaultType]);
  return [status, headers, data];
}

function userHeaders(single, multi) {
  const pairs = [];
  for (const [field, given] of [['headers', single], ['multiValueHeaders', multi]]) {
    if (given === undefined || given === null) continue;
    if (!isPlainObject(given)) throw new BadReturn(`${field} must be an object, got ${typeof given}`);
    for (const [name, values] of Object.entries(given)) {
      for (const item of Array.isArray(values) ? values : [values]) {
        const text = String(item);
        if (!name || /[:\r\n \t]/.test(name)) throw new BadReturn(`invalid response header name ${JSON.stringify(name)}`);
        if (/[\r\n]/.test(text) || /[^\x00-\xff]/.test(text)) {
          throw new BadReturn(`invalid value for response header ${JSON.stringify(name)}: ${JSON.stringify(text)}`);
        }
        if (!HOP_BY_HOP.has(name.toLowerCase())) pairs.push([name, text]);
      }
    }
  }
  return pairs;
}

// --- Loading the handler --------------------------------------------------------------------------

class HandlerLoadError extends Error {
  constructor(code, message, cause) {
    super(message);
    this.code = code;
    this.cause = cause;
  }
}

function findModule(functionDir, moduleName) {
  const base = path.join(functionDir, ...moduleName.split('.'));
  for (const candidate of [`${base}.js`, `${base}.cjs`, `${base}.mjs`, path.join(base, 'index.js')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

// Synchronous for CommonJS (the common case); a Promise only for ES modules.
function loadHandler(spec, functionDir) {
  const dot = spec.lastIndexOf('.');
  const [moduleName, attr] = [spec.slice(0, dot), spec.slice(dot + 1)];
  if (dot <= 0 || !attr) throw new HandlerLoadError(HANDLER_NOT_FOUND, `Bad handler '${spec}': expected module.function`);
  const file = findModule(functionDir, moduleName);
  if (file === null) {
    throw new HandlerLoadError(IMPORT_MODULE_ERROR,
      `Unable to import module '${moduleName}': no ${moduleName.split('.').join('/')}.js (or .cjs, .mjs) in ${functionDir}`);
  }
  const pick = (module) => pickHandler(module, moduleName, attr);
  if (!file.endsWith('.mjs')) {
    try {
      return pick(require(file));
    } catch (error) {
      if (error instanceof HandlerLoadError) throw error;
      if (!error || error.code !== 'ERR_REQUIRE_ESM') throw importError(error, moduleName);
    }
  }
  return import(pathToFileURL(file).href).then(pick, (error) => {
    throw importError(error, moduleName);
  });
}

function pickHandler(module, moduleName, attr) {
  let handler = module ? module[attr] : undefined;
  if (handler === undefined && module && module.default) handler = module.default[attr];
  if (handler === undefined) throw new HandlerLoadError(HANDLER_NOT_FOUND, `Handler '${attr}' missing on module '${moduleName}'`);
  if (typeof handler !== 'function') {
    throw new HandlerLoadError(HANDLER_NOT_FOUND,
      `Handler '${attr}' on module '${moduleName}' is not a function (it is a ${typeof handler})`);
  }
  return handler;
}

function importError(error, moduleName) {
  if (error instanceof SyntaxError) {
    return new HandlerLoadError(USER_CODE_SYNTAX_ERROR, `Syntax error in module '${moduleName}': ${error.message}`, error);
  }
  if (error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND')) {
    const first = String(error.message).split('\n')[0];
    return new HandlerLoadError(IMPORT_MODULE_ERROR, `Unable to import module '${moduleName}': ${first}`, error);
  }
  return new HandlerLoadError(INIT_ERROR, describe(error), error);
}

function reportInitError(error) {
  if (error.cause) console.error(error.cause.stack || String(error.cause));
  console.error(JSON.stringify({ faas_init_error: { code: error.code, message: error.message } }));
}

function exitOnInitError(error) {
  if (!(error instanceof HandlerLoadError)) error = new HandlerLoadError(INIT_ERROR, describe(error), error);
  reportInitError(error);
  process.exitCode = INIT_EXIT_STATUS[error.code];
  // stderr may be a pipe written asynchronously: exit once it has drained.
  process.stderr.write('', () => process.exit(INIT_EXIT_STATUS[error.code]));
}

// A Unix socket bound at `socketPath`, not listening yet: its handle, or null when unavailable.
function bindOnly(socketPath) {
  try {
    const { Pipe, constants } = process.binding('pipe_wrap');
    const handle = new Pipe(constants.SERVER);
    if (handle.bind(socketPath) === 0 && handle.fd >= 0) return handle;
    handle.close();
  } catch {
    // no pipe_wrap binding in this Node.js: listen first instead
  }
  return null;
}

function waitSealed(folder) {
  const deadline = Date.now() + SEAL_TIMEOUT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (fs.statSync(folder).mode & 0o222) {
    if (Date.now() >= deadline) return false;
    Atomics.wait(nap, 0, 0, 1); // sleep 1 ms, synchronously: nothing else may run yet
  }
  return true;
}

// --- The server -------------------------------------------------------------------------------------

function unquote(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseQuery(raw) {
  const list = {};
  for (const [key, value] of new URLSearchParams(raw)) (list[key] = list[key] || []).push(value);
  return list;
}

function createServer(options) {
  const state = {
    handler: null,
    ready: null, // a Promise while an ES module loads
    functionName: options.functionName,
    calls: 0,
    maxBody: options.maxBody,
  };
  // The gateway sends no Host header (it is hop-by-hop here); Node.js 20+ would refuse that.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    serveRequest(state, req, res).catch((error) => {
      console.error(error && error.stack ? error.stack : String(error));
      send(res, errorResponse(500, 'internal', 'the runtime failed to answer'), req.method);
    });
  });
  // The gateway keeps connections open for as long as it likes; it also enforces call timeouts.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  return { server, state };
}

async function serveRequest(state, req, res) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > state.maxBody) {
      res.shouldKeepAlive = false;
      return send(res, errorResponse(413, 'payload_too_large', `body is over ${state.maxBody} bytes`), req.method);
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const url = req.url || '/';
  const queryAt = url.indexOf('?');
  const target = queryAt < 0 ? url : url.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : url.slice(queryAt + 1);
  if (target === '/call' || target.startsWith('/call/')) {
    if (state.ready) await state.ready;
    if (state.handler === null) {
      return send(res, errorResponse(501, 'not_supported', 'the Node.js runtime has no generic mode'), req.method);
    }
    state.calls += 1;
    const headers = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (!key.startsWith('x-faas-')) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const timeout = Number.parseInt(req.headers['x-faas-timeout-ms'] || '', 10);
    const event = new Event({
      method: req.method,
      path: unquote(target.slice('/call'.length)) || '/',
      queryList: rawQuery ? parseQuery(rawQuery) : {},
      headers,
      body,
    });
    const context = new Context({
      functionName: state.functionName,
      callId: req.headers['x-call-id'] || `call-${state.calls}`,
      cold: state.calls === 1,
      timeoutMs: Number.isFinite(timeout) ? timeout : null,
    });
    return send(res, await invoke(state.handler, event, context), req.method);
  }
  if (target === '/_/health') {
    const loaded = state.handler !== null;
    const status = { status: 'ok', loaded, function: loaded ? state.functionName : null, calls: state.calls };
    return send(res, [200, [['Content-Type', JSON_TYPE]], Buffer.from(JSON.stringify(status))], req.method);
  }
  if (target === '/_/load') {
    return send(res, errorResponse(501, 'not_supported', 'the Node.js runtime has no generic mode'), req.method);
  }
  return send(res, errorResponse(404, 'not_found', `no such target '${target}'; use /call/...`), req.method);
}

function send(res, [status, headers, body], method) {
  const flat = [];
  for (const [name, value] of headers) flat.push(name, value);
  flat.push('Content-Length', String(body.length));
  res.sendDate = false;
  res.writeHead(status, flat);
  res.end(method === 'HEAD' ? undefined : body);
}

function envInt(name, fallback, minimum) {
  const text = (process.env[name] || '').trim();
  if (!text) return fallback;
  const value = /^-?\d+$/.test(text) ? Number(text) : minimum - 1;
  if (value < minimum) {
    console.error(`faas runtime: ignoring ${name}=${JSON.stringify(text)}, using ${fallback}`);
    return fallback;
  }
  return value;
}

function main() {
  const spec = process.argv[2] || process.env.FAAS_HANDLER || 'handler.handle';
  const functionDir = process.env.FAAS_FUNCTION_DIR || '/opt/faas/function';
  const socketPath = process.env.FAAS_SOCKET || null;
  const port = socketPath ? null : envInt('FAAS_PORT', 8080, 0);
  const { server, state } = createServer({
    functionName: process.env.FAAS_FUNCTION_NAME || 'function',
    maxBody: envInt('FAAS_MAX_BODY', DEFAULT_MAX_BODY, 0),
  });
  const where = socketPath || `0.0.0.0:${port}`;
  const bound = socketPath ? bindOnly(socketPath) : null; // kept: it holds the socket's fd
  const listen = () => {
    if (bound) server.listen({ fd: bound.fd });
    else if (socketPath) server.listen(socketPath);
    else server.listen(port, '0.0.0.0');
  };
  const sealed = socketPath && process.env.FAAS_SOCKET_SEALED === '1';
  const listenEarly = sealed && !bound;
  if (listenEarly) listen(); // the socket must exist before the function's code runs
  if (sealed && !waitSealed(path.dirname(socketPath))) {
    return exitOnInitError(new HandlerLoadError(INIT_ERROR, 'the gateway did not close the socket folder in time'));
  }
  let loaded;
  try {
    loaded = loadHandler(spec, functionDir);
  } catch (error) {
    return exitOnInitError(error);
  }
  const started = (handler) => {
    state.handler = handler;
    state.ready = null;
    if (!listenEarly) listen();
    console.error(`faas runtime (node ${process.version}): serving ${spec} on ${where}`);
  };
  if (typeof loaded === 'function') {
    started(loaded);
  } else {
    state.ready = loaded.then(started, exitOnInitError);
  }
  process.on('unhandledRejection', (reason) => {
    console.error('unhandled promise rejection:', reason instanceof Error ? reason.stack : reason);
  });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      server.close(() => process.exit(0));
      server.closeIdleConnections && server.closeIdleConnections();
      setTimeout(() => process.exit(0), 5000).unref();
    });
  }
}

module.exports = { Event, Context, invoke, coerceResponse, loadHandler, HandlerLoadError };

if (require.main === module) main();
