//go:build tools

// Package tools pins the Jaeger v2 binary that the local stack and the tests run.
// v1.76.0 is the module version of Jaeger v2.13.0, the last tag whose path the module proxy serves;
// it bundles the OTLP receiver, tail_sampling, batch, memory_limiter, spanmetrics and the
// Prometheus exporter, so one binary acts as both the collector tier and the Jaeger store.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
