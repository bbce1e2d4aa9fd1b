import { formatSoakReport, runSoak } from '@tracechat/cli';
import type { SoakReport } from '@tracechat/cli';

// The fault soak, short: ~60 s of sends from both gateways while logic, task, a journal node and a
// gateway are killed (and restarted by the supervisor), the NATS server is restarted and the
// services' Postgres connections are terminated. `pnpm soak --seconds N` runs it longer.
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);

let report: SoakReport;

beforeAll(async () => {
  report = await runSoak({ seconds: SECONDS, log: (line) => process.stdout.write(`soak: ${line}\n`) });
  process.stdout.write(`${formatSoakReport(report)}\n`);
}, (SECONDS + 420) * 1000);

describe('the fault soak', () => {
  it('went through every fault, each restarted service coming back, while messages flowed', () => {
    expect(report.faultErrors).toEqual([]);
    expect(report.phases.map((p) => p.fault)).toEqual([
      'none',
      'kill -9 logic',
      'kill -9 task',
      'kill -9 journal-1',
      'kill -9 gateway-1',
      'restart nats',
      'terminate postgres connections',
    ]);
    for (const phase of report.phases) expect(phase.acked).toBeGreaterThan(0);
  });

  it('every acked message is in history exactly once, and nothing unacked was stored', () => {
    expect(report.unacked).toBe(0);
    expect(report.phases.map((p) => [p.fault, p.lost, p.duplicated, p.stored_unacked])).toEqual(
      report.phases.map((p) => [p.fault, 0, 0, 0]),
    );
    expect(report.historyMessages).toBe(report.acked);
  });

  it('history holds every session’s seqs 1..N with no hole', () => {
    expect(report.historyHoles).toBe(0);
  });

  it('every receiver holds every session’s seqs 1..N, no hole, no duplicate, as history has them', () => {
    for (const r of report.receivers) {
      expect({ name: r.name, holes: r.holes, conflicts: r.conflicts, mismatches: r.mismatches }).toEqual({
        name: r.name,
        holes: 0,
        conflicts: 0,
        mismatches: 0,
      });
      expect(r.pushes).toBeGreaterThan(0);
    }
  });
});
