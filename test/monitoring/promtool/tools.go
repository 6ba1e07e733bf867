//go:build tools

// Package tools pins promtool, Prometheus's rule checker, which the chart's monitoring tests run.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
