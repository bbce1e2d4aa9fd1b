// `tracechat soak` (`pnpm soak`): the fault soak. Starts its own NATS server and stack on free
// ports, sends with client_msg_id and retries from both gateways while receivers on both gateways
// follow every session, kills logic, task, a journal node and a gateway (the supervisor restarts
// them), restarts NATS and terminates the services' Postgres connections, then prints what
// reached history and the receivers. Fails (false) when an acked message is lost or duplicated,
// something unacked was stored, or a seq is missing.
import { tokenSecret } from '../cli-env';
import { formatSoakReport, runSoak } from '../soak';

export interface SoakCommandOptions {
  readonly seconds: number;
  readonly sessions: number;
  readonly senders: number;
  readonly pause: number;
}

export async function soak(options: SoakCommandOptions): Promise<boolean> {
  const report = await runSoak({
    seconds: options.seconds,
    sessions: options.sessions,
    sendersPerGateway: options.senders,
    pauseMs: options.pause,
    authSecret: tokenSecret(process.env),
    log: (line) => console.log(`soak: ${line}`),
  });
  console.log(`\n${formatSoakReport(report)}`);
  const holes =
    report.historyHoles +
    report.receivers.reduce((n, r) => n + r.holes + r.conflicts + r.mismatches, 0);
  return report.lost + report.duplicated + report.storedUnacked + holes === 0;
}
