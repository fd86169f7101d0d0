// Command casual is the Casual server and its tools: `serve` runs the
// collaborative backend, `bench` is the protocol load generator.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: casual <command> [flags]

commands:
  serve   run the server (casual serve -h for every setting)
  migrate apply PostgreSQL migrations (--store postgres://…)
  bench   load-generate against a server speaking the automerge-repo protocol
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "casual:", err)
		}
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		cfg, err := loadConfig(args[1:], getenv)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		return serve(ctx, cfg, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, getenv)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
