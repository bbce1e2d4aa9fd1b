// Preload entry: `node --require @tracechat/telemetry/register main.js` starts OpenTelemetry
// before the service requires anything it instruments.
require('./dist/register');
