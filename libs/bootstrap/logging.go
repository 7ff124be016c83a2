package bootstrap

import (
	"fmt"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns a zap-backed logr.Logger: JSON for production, console
// for people at a terminal.
func NewLogger(format, level string) (logr.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return logr.Discard(), err
	}
	opts := []ctrlzap.Opts{ctrlzap.Level(lvl), ctrlzap.StacktraceLevel(zapcore.PanicLevel)}
	if format == "console" {
		opts = append(opts, ctrlzap.UseDevMode(true), ctrlzap.Level(lvl))
	} else {
		opts = append(opts, ctrlzap.UseDevMode(false), ctrlzap.JSONEncoder())
	}
	return ctrlzap.New(opts...), nil
}

func parseLevel(level string) (zapcore.Level, error) {
	switch level {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	default:
		return zapcore.InfoLevel, fmt.Errorf("--log-level %q: want debug, info or error", level)
	}
}
