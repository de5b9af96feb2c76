// Command benchcmd runs package diagnose on files the way `rocm-patch
// diagnose` does, for scripts/bench-diagnose.sh when the CLI is not
// built. With -patterns it prints every expression the matcher may run,
// in POSIX ERE, one per line, for `grep -E -f`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func main() {
	patterns := flag.Bool("patterns", false, "print the patterns in ERE and exit")
	asJSON := flag.Bool("json", false, "print the diagnosis as JSON")
	flag.Parse()
	os.Exit(run(*patterns, *asJSON, flag.Args()))
}

func run(patterns, asJSON bool, files []string) int {
	k, err := kb.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return diagnose.ExitError
	}
	m, err := diagnose.New(k, diagnose.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return diagnose.ExitError
	}
	if patterns {
		for _, p := range m.Patterns() {
			fmt.Println(p)
		}
		return 0
	}
	var inputs []diagnose.Input
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return diagnose.ExitError
		}
		defer f.Close()
		label := ""
		if len(files) > 1 {
			label = name
		}
		inputs = append(inputs, diagnose.Input{Name: label, R: f})
	}
	if len(inputs) == 0 {
		inputs = append(inputs, diagnose.Input{R: os.Stdin})
	}
	res, err := m.Scan(context.Background(), inputs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return diagnose.ExitError
	}
	if asJSON {
		err = res.WriteJSON(os.Stdout)
	} else {
		err = res.WriteText(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return diagnose.ExitError
	}
	return res.ExitCode()
}
