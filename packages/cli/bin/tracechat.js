#!/usr/bin/env node
// The `tracechat` command; the code is compiled to dist by `pnpm build`.
require('../dist/bin/tracechat.js');
