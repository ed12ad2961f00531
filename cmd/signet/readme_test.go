package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one fenced shell block of the README.
type readmeBlock struct {
	line int    // of the opening fence
	text string // the commands, as written
}

// readmeBlocks returns the ```sh and ```bash blocks of a Markdown file.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && (l == "```sh" || l == "```bash" || l == "```shell"):
			cur = &readmeBlock{line: i + 1}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: a shell block is not closed", path, cur.line)
	}
	return blocks
}

// isServerBlock reports whether the block starts the server: it has the
// line `make run`. The test runs that line, verbatim, in the background.
func isServerBlock(b readmeBlock) bool {
	for _, l := range strings.Split(stripComments(b.text), "\n") {
		if strings.TrimSpace(l) == "make run" {
			return true
		}
	}
	return false
}

// notRun says why the README test does not run a block itself: the block
// that starts the server (its `make run` runs in the background; `make
// test` beside it is the suite this test is part of), and the make targets
// that take minutes and have their own runs. Every other block runs, in
// order, and must succeed.
func notRun(b readmeBlock) string {
	cmds := stripComments(b.text)
	switch {
	case isServerBlock(b):
		return "starts the server (run in the background) and the test suite"
	case strings.Contains(cmds, "make bench"), strings.Contains(cmds, "make soak"), strings.Contains(cmds, "make fuzz"):
		return "takes minutes: make bench, make soak and make fuzz have their own runs"
	}
	return ""
}

// stripComments drops shell comments that take a whole line, and those
// after "  # " on a command line, as the README writes them.
func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if i := strings.Index(l, "  # "); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// exportLine matches the line `make run` prints for a reader to paste:
// export SIGNET=… and the other variables the examples use.
var exportLine = regexp.MustCompile(`^\s*export\s+(.*)$`)

// TestREADME runs every shell block of README.md, verbatim and in order, as
// a new user would: in a folder laid out as a clone of the repository, with
// `make run` started on a free port, and with the variables the server
// prints for the reader to paste. A block that fails fails the test with its
// README line and output.
func TestREADME(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and starts the server: not in -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	dir := cloneLayout(t, root)

	if !slices.ContainsFunc(blocks, isServerBlock) {
		t.Fatal("README.md has no block with the line `make run`")
	}
	env := startReadmeServer(t, dir, "make run")

	for _, b := range blocks {
		if why := notRun(b); why != "" {
			t.Logf("README.md:%d not run: it %s", b.line, why)
			continue
		}
		// One terminal: what a block exports, the next ones see.
		envFile := filepath.Join(t.TempDir(), "env")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", b.text+"\nenv -0 > "+envFile)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README.md:%d failed: %v\n--- block:\n%s--- output:\n%s", b.line, err, b.text, out)
		}
		exported, err := os.ReadFile(envFile)
		if err != nil {
			t.Fatal(err)
		}
		env = strings.Split(strings.TrimSuffix(string(exported), "\x00"), "\x00")
	}
}

// cloneLayout makes a folder that looks like a clone of the repository (its
// top-level entries linked, but bin and the data folder its own), so that
// the README's relative paths work and what its examples write stays out of
// the repository.
func cloneLayout(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch e.Name() {
		case "bin", "signet-data", ".git":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startReadmeServer runs the README's `make run` in dir on a free port and
// waits for the line it prints for the reader to paste; it returns the
// environment the blocks run in. The server is stopped when the test ends.
func startReadmeServer(t *testing.T, dir, command string) []string {
	t.Helper()
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LISTEN="+loopbackAddr(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make, then signet: stop both
	pr, pw := io.Pipe()
	// Stdout and stderr are copied by a goroutine each: logs serialises them.
	var buf bytes.Buffer
	logs := &lockedWriter{w: &buf, changed: make(chan struct{})}
	output := func() string {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return buf.String()
	}
	cmd.Stdout = io.MultiWriter(pw, logs)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.CloseWithError(io.EOF) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Error("make run did not stop within 15 s of SIGTERM")
		}
	})

	env := os.Environ()
	found := make(chan string, 1) // the export line's assignments
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := exportLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		close(found)
	}()
	select {
	case assignments, ok := <-found:
		if !ok {
			t.Fatalf("make run printed no export line before it stopped:\n%s", output())
		}
		return append(env, readmeExports(t, dir, assignments)...) // t.Fatal only on the test's goroutine
	case <-time.After(5 * time.Minute): // the first build on a cold cache
		t.Fatalf("make run printed no export line within 5 minutes:\n%s", output())
	}
	return nil
}

// readmeExports evaluates the export line as bash would (the line may use
// $PWD or $(cat …)) and returns the variables it sets.
func readmeExports(t *testing.T, dir, assignments string) []string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "export "+assignments+"\nenv -0")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PWD=" + dir, "HOME=" + os.Getenv("HOME")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the export line %q does not run: %v", assignments, err)
	}
	var vars []string
	for _, kv := range strings.Split(string(out), "\x00") {
		name, _, ok := strings.Cut(kv, "=")
		if ok && strings.Contains(assignments, name+"=") {
			vars = append(vars, kv)
		}
	}
	if len(vars) == 0 {
		t.Fatalf("the export line %q sets no variable", assignments)
	}
	return vars
}
