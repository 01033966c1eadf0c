package main

import (
	"context"
	"errors"
	"flag"
)

func runHook(_ context.Context, fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("the hook bridge is not built yet (issue 3)")
}
