import { IdRules, isNodeId, isSessionId } from '@tracechat/contracts';
import { PlacementError } from './errors';

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const PORT = /^[1-9]\d{0,4}$/;

/** Node ids name journal nodes in logs, metrics and the shard map: letters, digits, _ and -. */
export function checkNodeId(value: string): string {
  if (!isNodeId(value)) {
    throw new PlacementError('INVALID_ARGUMENT', `node_id must be ${IdRules.node}`);
  }
  return value;
}

export function checkSessionId(value: string): string {
  if (!isSessionId(value)) {
    throw new PlacementError('INVALID_ARGUMENT', `session_id must be ${IdRules.session}`);
  }
  return value;
}

/**
 * A gRPC target callers can dial: `host:port` with a host name or IPv4 address, or
 * `[ipv6]:port`; the port from 1 to 65535. Returned unchanged.
 */
export function checkAddress(value: string): string {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  const hostOk = colon > 0 && host.length <= 253 && (HOST_NAME.test(host) || IPV6.test(host));
  if (!hostOk || !PORT.test(port) || Number(port) > 65535) {
    throw new PlacementError(
      'INVALID_ARGUMENT',
      'address must be host:port with a port from 1 to 65535',
    );
  }
  return value;
}
