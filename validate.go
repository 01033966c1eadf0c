package main

import (
	"context"
	"errors"
	"flag"
)

func runValidate(_ context.Context, fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("validation is not built yet (issue 4)")
}
