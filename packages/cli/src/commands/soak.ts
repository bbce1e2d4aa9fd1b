// `tracechat soak` (`pnpm soak`) [--seconds 120] [--sessions 4] [--senders 2] [--pause 100]`: the fault soak. Starts its
// own NATS server and stack on free ports, sends with client_msg_id and retries from both
// gateways while receivers on both gateways follow every session, kills logic, task, a journal
// node and a gateway (the supervisor restarts them), restarts NATS and terminates the services'
// Postgres connections, then prints what reached history and the receivers. Exits 1 when an acked
// message is lost or duplicated, something unacked was stored, or a seq is missing.
import { parseArgs } from 'node:util';
import { formatSoakReport, runSoak } from '../soak';

export async function soak(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seconds: { type: 'string', default: '120' },
      sessions: { type: 'string', default: '4' },
      senders: { type: 'string', default: '2' },
      pause: { type: 'string', default: '100' },
    },
  });
  const report = await runSoak({
    seconds: Number(values.seconds),
    sessions: Number(values.sessions),
    sendersPerGateway: Number(values.senders),
    pauseMs: Number(values.pause),
    log: (line) => console.log(`soak: ${line}`),
  });
  console.log(`\n${formatSoakReport(report)}`);
  const holes =
    report.historyHoles +
    report.receivers.reduce((n, r) => n + r.holes + r.conflicts + r.mismatches, 0);
  if (report.lost + report.duplicated + report.storedUnacked + holes > 0) process.exit(1);
}
