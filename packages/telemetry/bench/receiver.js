'use strict';
// A minimal OTLP/HTTP receiver for the span benchmark: it answers every export with success and
// counts the spans it was sent (OTLP/JSON or OTLP/protobuf), so the benchmark can tell whether
// any were lost. It runs in its own process so its CPU is not billed to the spans measured.
// Started by spans.js: reports its port, answers { type: 'report' } with the counts and
// { type: 'reset' } by zeroing them.
const http = require('node:http');

/** Reads a protobuf varint at `pos`; returns [value, next position]. */
function varint(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}

/** Calls `onField(field, start, end)` for each length-delimited field in buf[start, end). */
function eachLenField(buf, start, end, onField) {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = varint(buf, pos);
    const wireType = tag & 7;
    pos = afterTag;
    if (wireType === 0) pos = varint(buf, pos)[1];
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const [len, afterLen] = varint(buf, pos);
      onField(tag >>> 3, afterLen, afterLen + len);
      pos = afterLen + len;
    } else throw new Error(`unexpected wire type ${wireType}`);
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
function countProtobufSpans(buf) {
  let spans = 0;
  eachLenField(buf, 0, buf.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    eachLenField(buf, s1, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      eachLenField(buf, s2, e2, (f3) => {
        if (f3 === 2) spans++;
      });
    });
  });
  return spans;
}

function countJsonSpans(buf) {
  const body = JSON.parse(buf.toString('utf8'));
  let spans = 0;
  for (const rs of body.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length;
  return spans;
}

const counts = { spans: 0, traceRequests: 0, traceBytes: 0, metricRequests: 0, errors: 0 };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const json = (req.headers['content-type'] ?? '').includes('json');
    if (req.url === '/v1/traces') {
      counts.traceRequests++;
      counts.traceBytes += body.length;
      try {
        counts.spans += json ? countJsonSpans(body) : countProtobufSpans(body);
      } catch {
        counts.errors++;
      }
    } else if (req.url === '/v1/metrics') {
      counts.metricRequests++;
    }
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : undefined);
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port });
});
process.on('message', (msg) => {
  if (msg.type === 'report') process.send({ type: 'report', counts: { ...counts } });
  if (msg.type === 'reset') {
    for (const key of Object.keys(counts)) counts[key] = 0;
    process.send({ type: 'reset' });
  }
});
