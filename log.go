package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// logFlags are the logging flags every long-running subcommand takes.
type logFlags struct {
	format string
	level  string
}

func (l *logFlags) register(fs *flag.FlagSet, defaultFormat string) {
	fs.StringVar(&l.format, "log-format", defaultFormat, "log format: json (for journald and log shippers) or console (for people)")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

// logger builds the process logger. Logs go to stdout: under systemd that is the journal.
func (l *logFlags) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(l.level)
	if err != nil || l.level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: expected debug, info, warn or error", l.level)
	}
	// Every duration is logged in milliseconds under a key that says so (duration_ms).
	zerolog.DurationFieldUnit = time.Millisecond
	zerolog.DurationFieldInteger = false
	switch l.format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !colour(w)}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: expected json or console", l.format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// colour says whether console logs to w may be coloured: only on a terminal, and not when
// NO_COLOR is set (no-color.org); a pipe or a file gets plain text.
func colour(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && term.IsTerminal(int(f.Fd()))
}
