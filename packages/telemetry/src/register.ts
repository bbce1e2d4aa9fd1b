// Loaded with `node --require @tracechat/telemetry/register`, before the service's own code.
import { loadTelemetryConfig } from './config';
import { startTelemetry } from './sdk';

startTelemetry(loadTelemetryConfig(process.env));
