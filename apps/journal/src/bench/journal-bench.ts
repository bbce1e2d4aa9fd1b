/**
 * Journal storage benchmark: measures the disk itself, then the engine with one fsync per append
 * and with group commit, on the same directory, and prints how each compares with the raw limit.
 *
 *   node dist/bench/journal-bench.js [--dir D] [--seconds S] [--record-bytes B] [--concurrency C]
 *                                    [--max-wait-ms M]
 *
 * Everything is written under a fresh directory inside D (default: the OS temp dir) and removed
 * at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalStore } from '../storage';
import type { JournalStoreOptions } from '../storage';

interface BenchConfig {
  dir: string;
  seconds: number;
  recordBytes: number;
  concurrency: number;
  maxWaitMs: number;
}

const MiB = 1024 * 1024;
const SEQUENTIAL_BYTES = 64 * MiB;
const SEQUENTIAL_CHUNK = 1 * MiB;

function usage(problem?: string): never {
  if (problem) process.stderr.write(`journal-bench: ${problem}\n`);
  process.stderr.write(
    'usage: node dist/bench/journal-bench.js [--dir D] [--seconds S] [--record-bytes B] ' +
      '[--concurrency C] [--max-wait-ms M]\n',
  );
  process.exit(problem ? 2 : 0);
}

function parseArgs(argv: readonly string[]): BenchConfig {
  const config: BenchConfig = {
    dir: tmpdir(),
    seconds: 3,
    recordBytes: 256,
    concurrency: 64,
    maxWaitMs: 2,
  };
  const numeric: Record<string, [keyof BenchConfig, number, number]> = {
    '--seconds': ['seconds', 0.1, 600],
    '--record-bytes': ['recordBytes', 0, 1024 * 1024],
    '--concurrency': ['concurrency', 1, 100_000],
    '--max-wait-ms': ['maxWaitMs', 0, 1000],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') usage();
    const value = argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--dir') {
      config.dir = value;
      continue;
    }
    const spec = numeric[flag];
    if (!spec) usage(`unknown option ${flag}`);
    const [key, min, max] = spec;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      usage(`${flag} must be a number in [${min}, ${max}], got ${value}`);
    }
    (config as unknown as Record<string, number>)[key] =
      key === 'seconds' ? parsed : Math.floor(parsed);
  }
  return config;
}

/** Raw sequential bandwidth: 64 MiB in 1 MiB writes, one fsync at the end. */
async function sequentialBandwidth(dir: string): Promise<number> {
  const path = join(dir, 'sequential.bin');
  const chunk = randomBytes(SEQUENTIAL_CHUNK);
  const file = await open(path, 'w');
  const start = performance.now();
  try {
    for (let written = 0; written < SEQUENTIAL_BYTES; written += chunk.length) {
      await file.write(chunk, 0, chunk.length, written);
    }
    await file.sync();
  } finally {
    await file.close();
  }
  const seconds = (performance.now() - start) / 1000;
  await rm(path);
  return SEQUENTIAL_BYTES / MiB / seconds;
}

/** Raw fsync rate: appends of `recordBytes` each followed by fdatasync, for `seconds`. */
async function syncRate(
  dir: string,
  seconds: number,
  recordBytes: number,
): Promise<{ perSecond: number; p50: number; p99: number }> {
  const path = join(dir, 'fsync.bin');
  const chunk = randomBytes(Math.max(1, recordBytes));
  const file = await open(path, 'w');
  const latencies = new Latencies();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let count = 0;
  try {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await file.write(chunk, 0, chunk.length, count * chunk.length);
      await file.datasync();
      latencies.add(performance.now() - t0);
      count++;
    }
  } finally {
    await file.close();
  }
  const elapsed = (performance.now() - start) / 1000;
  await rm(path);
  return {
    perSecond: count / elapsed,
    p50: latencies.percentile(50),
    p99: latencies.percentile(99),
  };
}

class Latencies {
  private values = new Float64Array(1024);
  private count = 0;

  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }

  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const sorted = this.values.slice(0, this.count).sort();
    return sorted[Math.min(this.count - 1, Math.floor((p / 100) * this.count))];
  }
}

interface JournalResult {
  appendsPerSecond: number;
  mbPerSecond: number;
  fsyncsPerSecond: number;
  appendsPerBatch: number;
  p50: number;
  p99: number;
}

/** `concurrency` appenders, each appending one record at a time to one shard, for `seconds`. */
async function journalPhase(
  dir: string,
  config: BenchConfig,
  options: JournalStoreOptions,
): Promise<JournalResult> {
  const store = await JournalStore.open(dir, options);
  const data = randomBytes(config.recordBytes);
  const latencies = new Latencies();
  try {
    await store.createShard('bench');
    const start = performance.now();
    const deadline = start + config.seconds * 1000;
    await Promise.all(
      Array.from({ length: config.concurrency }, async (_, i) => {
        const record = [{ sessionId: `session-${i}`, data }];
        while (performance.now() < deadline) {
          const t0 = performance.now();
          await store.append('bench', record);
          latencies.add(performance.now() - t0);
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    const stats = store.stats();
    return {
      appendsPerSecond: stats.appends / elapsed,
      mbPerSecond: stats.bytes / MiB / elapsed,
      fsyncsPerSecond: stats.fsyncs / elapsed,
      appendsPerBatch: stats.appends / Math.max(1, stats.batches),
      p50: latencies.percentile(50),
      p99: latencies.percentile(99),
    };
  } finally {
    await store.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
    )
    .join('\n');
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const ratio = (n: number) => `${(n * 100).toFixed(n < 0.01 ? 2 : 1)} %`;

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const root = await mkdtemp(join(config.dir, 'journal-bench-'));
  const stop = () => {
    void rm(root, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const out = process.stdout;
    out.write(
      `journal-bench: dir=${root} seconds/phase=${config.seconds} record=${config.recordBytes} B ` +
        `concurrency=${config.concurrency} group-commit max wait=${config.maxWaitMs} ms\n\n`,
    );
    const bandwidth = await sequentialBandwidth(root);
    const sync = await syncRate(root, config.seconds, config.recordBytes);
    const perAppend = await journalPhase(join(root, 'per-append'), config, {
      fsyncPerAppend: true,
    });
    const grouped = await journalPhase(join(root, 'group'), config, {
      groupCommitMaxWaitMs: config.maxWaitMs,
    });
    const recordOnDisk = config.recordBytes + 26 + 'session-0'.length;

    out.write('disk (measured here)\n');
    out.write(
      table([
        ['measurement', 'result', 'p50 ms', 'p99 ms'],
        ['sequential write, 64 MiB in 1 MiB writes + fsync', `${fixed(bandwidth)} MB/s`, '-', '-'],
        [
          `write ${config.recordBytes} B + fdatasync, one at a time`,
          `${fixed(sync.perSecond, 0)} syncs/s`,
          fixed(sync.p50, 2),
          fixed(sync.p99, 2),
        ],
      ]) + '\n\n',
    );
    out.write(
      `journal (${config.concurrency} concurrent appenders, 1 record of ${recordOnDisk} B on disk per append)\n`,
    );
    const row = (name: string, r: JournalResult) => [
      name,
      fixed(r.appendsPerSecond, 0),
      fixed(r.mbPerSecond, 2),
      fixed(r.fsyncsPerSecond, 0),
      fixed(r.appendsPerBatch, 1),
      fixed(r.p50, 2),
      fixed(r.p99, 2),
      ratio(r.appendsPerSecond / sync.perSecond),
      ratio(r.mbPerSecond / bandwidth),
    ];
    out.write(
      table([
        [
          'mode',
          'appends/s',
          'MB/s',
          'fsyncs/s',
          'appends/batch',
          'p50 ms',
          'p99 ms',
          'vs raw syncs/s',
          'vs raw MB/s',
        ],
        row('fsync per append', perAppend),
        row('group commit', grouped),
      ]) + '\n\n',
    );
    out.write(
      `group commit: ${fixed(grouped.appendsPerSecond / perAppend.appendsPerSecond, 1)}x the appends/s of ` +
        `fsync per append; ${fixed(grouped.appendsPerBatch, 1)} appends share each fsync on average.\n`,
    );
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `journal-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
