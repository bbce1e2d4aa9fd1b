#!/bin/sh
':' //; exec node "$0" -- "$@"
// The `tracechat` command; the code is compiled to dist by `pnpm build`. The two lines above run
// this file with node and a `--` before the arguments (Node 20 takes an `--env-file` anywhere on
// its command line for itself, unless it comes after `--`); node reads them as a string and a
// comment.
require('../dist/bin/tracechat.js');
