package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/atomicfile"
	"github.com/signet-project/signet/internal/signserver"
)

// importSignServerCmd is `signet config import-signserver`: SignServer
// worker property files in, Signet YAML out, and on stderr every property
// that did not carry over with its reason.
func importSignServerCmd(fs *flag.FlagSet) runFunc {
	out := fs.String("o", "", "write the YAML to `file` (default: standard output)")
	return func(_ context.Context, io stdio, paths []string) error {
		if err := readable(paths...); err != nil {
			return err
		}
		var files []signserver.File
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil { // gone since
				return err
			}
			defer f.Close()
			files = append(files, signserver.File{Name: p, R: f})
		}
		res, err := signserver.Import(files...)
		if err != nil {
			return usageError(err.Error())
		}
		if err := writeOut(*out, res.YAML, io); err != nil {
			return err
		}
		for _, n := range res.Notes {
			fmt.Fprintln(io.err, "note:", n)
		}
		for _, w := range res.Warnings {
			fmt.Fprintln(io.err, "warning:", w)
		}
		for _, s := range res.Skipped {
			fmt.Fprintln(io.err, "not imported:", s)
		}
		fmt.Fprintf(io.err, "%s read; %s not imported (listed above).\n", count(len(files), "property file"), count(len(res.Skipped), "property"))
		if len(res.Problems) > 0 {
			fmt.Fprintf(io.err, "The import has %s (one of the YAML is named at the property it comes from, as signet config check reports it):\n%s\n", count(len(res.Problems), "problem"), res.Problems)
			return exitError{1}
		}
		return nil
	}
}

// exportSignServerCmd is `signet config export-signserver`: the workers and
// crypto tokens of Signet YAML as a SignServer property file.
func exportSignServerCmd(fs *flag.FlagSet) runFunc {
	out := fs.String("o", "", "write the properties to `file` (default: standard output)")
	return func(_ context.Context, io stdio, paths []string) error {
		if err := readable(paths...); err != nil {
			return err
		}
		cfg, err := config.Load(paths...)
		if err != nil {
			fmt.Fprintln(io.err, err)
			return exitError{1}
		}
		if ps := cfg.Problems(); len(ps) > 0 {
			fmt.Fprintf(io.err, "%s\n%d problem(s) found: fix them first (signet config check).\n", ps, len(ps))
			return exitError{1}
		}
		props, skipped := signserver.Export(cfg)
		if err := writeOut(*out, props, io); err != nil {
			return err
		}
		for _, s := range skipped {
			fmt.Fprintln(io.err, "not exported:", s)
		}
		return nil
	}
}

// count is n things in a sentence: "1 problem", "2 problems", "0 properties".
func count(n int, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "y"):
		return strconv.Itoa(n) + " " + strings.TrimSuffix(thing, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// writeOut writes b to the named file, or to standard output when the name
// is empty. The file is written whole or not at all.
func writeOut(name string, b []byte, io stdio) error {
	if name == "" {
		_, err := io.out.Write(b)
		return err
	}
	if err := atomicfile.Write(name, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
