package main

import (
	"fmt"
	"io"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger returns a zap JSON logger on w with the keys Cloud Logging reads
// (docs/contract.md#logs): severity (DEBUG, INFO, WARNING, ERROR), message,
// and time, an RFC 3339 string with nanoseconds, which Cloud Logging takes
// as the entry's time (a string "timestamp" is not one of its forms).
func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil || lvl > zapcore.ErrorLevel {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "severity",
		MessageKey:     "message",
		NameKey:        "logger",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.SecondsDurationEncoder,
		EncodeLevel: func(l zapcore.Level, pe zapcore.PrimitiveArrayEncoder) {
			pe.AppendString(severity(l))
		},
	})
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(escapedLines{w})), lvl)), nil
}

// escapedLines writes each JSON log line with the runes a terminal could
// act on that zap leaves raw (C1 controls, format characters such as the
// bidirectional overrides, line separators: it escapes only C0) as \u
// escapes, which leaves every value as it was (escapeJSON): an API's
// error message in a detail field cannot take over the terminal of
// whoever reads the log (docs/contract.md#terminal-output). zap writes a
// whole entry in one Write.
type escapedLines struct{ w io.Writer }

func (e escapedLines) Write(p []byte) (int, error) {
	if _, err := e.w.Write(escapeJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func severity(l zapcore.Level) string {
	switch l {
	case zapcore.DebugLevel:
		return "DEBUG"
	case zapcore.InfoLevel:
		return "INFO"
	case zapcore.WarnLevel:
		return "WARNING"
	case zapcore.ErrorLevel:
		return "ERROR"
	default:
		return fmt.Sprintf("CRITICAL (%s)", l)
	}
}

// traceFields returns the fields that put a log line under its trace in
// Cloud Logging (see docs/contract.md#logs): the trace as
// projects/PROJECT/traces/TRACE_ID, and the span.
func traceFields(project string) func(trace.SpanContext) []zap.Field {
	prefix := "projects/" + project + "/traces/"
	return func(sc trace.SpanContext) []zap.Field {
		return []zap.Field{
			zap.String("logging.googleapis.com/trace", prefix+sc.TraceID().String()),
			zap.String("logging.googleapis.com/spanId", sc.SpanID().String()),
		}
	}
}
