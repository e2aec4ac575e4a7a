// spec_gate_worker: a worker thread of the spec gate (spec_gate.mjs) that loads the vendored specs
// once and answers "check this request" / "check this answer of operation N" messages.
import { parentPort } from 'node:worker_threads';
import { loadSpecs, checkRequest, checkResponse, opSummary } from './spec_gate.mjs';

const specs = await loadSpecs();
parentPort.on('message', (m) => {
  try {
    if (m.kind === 'ready') parentPort.postMessage({ id: m.id });
    else if (m.kind === 'request') {
      const c = checkRequest(specs, { method: m.method, path: m.path, query: new URLSearchParams(m.search),
        headers: m.headers, body: Buffer.from(m.body, 'utf8') });
      parentPort.postMessage({ id: m.id, op: c.op ? opSummary(c.op) : null, problems: c.problems });
    } else if (m.kind === 'response') {
      const op = specs.operations[m.index];
      parentPort.postMessage({ id: m.id, problems: checkResponse(specs, op, { status: m.status, body: Buffer.from(m.body, 'utf8'), method: m.method }) });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: e.stack ?? String(e) });
  }
});
