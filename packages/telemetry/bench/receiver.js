'use strict';
// A minimal OTLP/HTTP receiver: it answers every export with success and counts the spans it was
// sent (OTLP/JSON or OTLP/protobuf) by name, so the span benchmark (spans.js) and the export tests
// can tell whether any were lost. It runs in its own process: its CPU is not billed to the spans
// measured, and the sender's HTTP instrumentation never traces it. Forked with an IPC channel:
// it sends { type: 'ready', port }, answers { type: 'report' } with the counts and
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

/** Span names in an ExportTraceServiceRequest: resource_spans(1) > scope_spans(2) > spans(2). */
function protobufSpanNames(buf) {
  const names = [];
  eachLenField(buf, 0, buf.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    eachLenField(buf, s1, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      eachLenField(buf, s2, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        let name = '';
        eachLenField(buf, s3, e3, (f4, s4, e4) => {
          if (f4 === 5) name = buf.toString('utf8', s4, e4);
        });
        names.push(name);
      });
    });
  });
  return names;
}

function jsonSpanNames(buf) {
  const body = JSON.parse(buf.toString('utf8'));
  const names = [];
  for (const rs of body.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) names.push(span.name);
  return names;
}

const counts = {
  spans: 0,
  traceRequests: 0,
  traceBytes: 0,
  /** requests (traces and metrics) by content type */
  protobufRequests: 0,
  jsonRequests: 0,
  metricRequests: 0,
  errors: 0,
  /** spans received, by name */
  names: {},
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const json = (req.headers['content-type'] ?? '').includes('json');
    if (json) counts.jsonRequests++;
    else if (req.headers['content-type'] === 'application/x-protobuf') counts.protobufRequests++;
    if (req.url === '/v1/traces') {
      counts.traceRequests++;
      counts.traceBytes += body.length;
      try {
        for (const name of json ? jsonSpanNames(body) : protobufSpanNames(body)) {
          counts.spans++;
          counts.names[name] = (counts.names[name] ?? 0) + 1;
        }
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
// the sender is gone (however it ended): so is this process
process.on('disconnect', () => process.exit(0));
process.on('message', (msg) => {
  if (msg.type === 'report') process.send({ type: 'report', counts });
  if (msg.type === 'reset') {
    for (const key of Object.keys(counts)) counts[key] = key === 'names' ? {} : 0;
    process.send({ type: 'reset' });
  }
});
