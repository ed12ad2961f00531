// Command benchsuite is make bench: it runs Signet's benchmark suite and
// prints one line per case, last in its output,
//
//	BENCH <case> <value> <unit> baseline=<value> ratio=<value>
//
// with the baseline measured in the same run on the same machine, and writes
// the table, the machine and a CPU profile summary into BENCHMARKS.md.
//
// The in-process cases are every pair of Go benchmarks BenchmarkSuite_<case>
// and BenchmarkSuite_<case>_baseline in any package of the module, each
// reporting items/s; <case> is written in camelCase and printed in
// kebab-case (pipelineBatchP256 → pipeline-batch-p256). The HTTP cases start
// bin/signet serve on loopback with testdata/bench/bench.yaml and drive it
// with bin/signet client bench and client sign.
//
// Run it from the module root after building bin/signet:
//
//	go run ./scripts/benchsuite [-rounds 3] [-benchtime 1s] [-http 10s] [-out BENCHMARKS.md]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/loadgen"
	signetserver "github.com/signet-project/signet/internal/server"
)

// result is one case's line.
type result struct {
	name     string
	value    float64
	unit     string
	baseline float64
	extra    string // more figures, such as p99 or peak RSS
	goal     string // the goal, as the issue states it
	skipped  string // why the case did not run
	note     string // how it was measured
	// median is the median of the per-round ratios of an in-process pair,
	// which is then the ratio of the case (0: value / baseline).
	median float64
}

func (r result) ratio() float64 {
	if r.median != 0 {
		return r.median
	}
	if r.baseline == 0 {
		return 0
	}
	return r.value / r.baseline
}

// line is the BENCH line of r.
func (r result) line() string {
	if r.skipped != "" {
		return fmt.Sprintf("BENCH %s - %s baseline=- ratio=- skipped: %s", r.name, r.unit, r.skipped)
	}
	s := fmt.Sprintf("BENCH %s %s %s baseline=%s ratio=%.3f", r.name, num(r.value), r.unit, num(r.baseline), r.ratio())
	if r.extra != "" {
		s += " " + r.extra
	}
	return s
}

// num formats a figure with about four significant digits.
func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// goals are the issues' goals of the cases; the others are reported only.
var goals = map[string]string{
	"pipeline-batch-p256":     "ratio ≥ 0.9 (minimum of the rounds)",
	"pipeline-batch-rsa3072":  "ratio ≥ 0.95",
	"http-batch-p256":         "ratio ≥ 0.6",
	"http-single-p256":        "ratio ≥ 0.4, p99 ≤ 10 ms, floor_ratio ≥ 0.75",
	"http-dsm-batch-p256":     "≥ http-batch-p256 (the CAdES batch)",
	"http-dsm-single-p256":    "≥ http-single-p256 (no goal of its own)",
	"http-nethsm-single-p256": "≥ http-single-p256",
	"stream-1gib":             "ratio ≥ 0.7, peak RSS ≤ 64 MiB",
	"vs-openssl-folder":       "documents/s ratio (no goal)",
	// Cases that other packages add (see the package comment).
	"pipeline-batch-pkcs11-p256": "ratio ≥ 0.8 (vs raw crypto11)",
	"pipeline-batch-bt-p256":     "ratio ≥ 0.45 (B-T vs B-B)",
	"pades-bb-1mib":              "PAdES-B-B vs detached CAdES-B-B of the same 1 MiB PDF, documents/s (no goal)",
	"batch-dsm-p256":             "dsm token vs the key directly (no goal)",
	"batch-nethsm-p256":          "ratio ≥ 0.6 (nethsm token vs the key directly)",
	"http-batch-p256-postgres":   "ratio ≥ 0.9 (PostgreSQL vs SQLite state)",
	"http-single-p256-postgres":  "ratio ≥ 0.9 (PostgreSQL vs SQLite state)",
}

type suite struct {
	root       string
	bin        string
	tmp        string
	rounds     int
	benchtime  string
	httpDur    time.Duration
	log        io.Writer
	results    []result
	profile    string // CPU profile summaries, Markdown
	dsmProfile string // the DSM batch handler's, Markdown
	deadline   time.Time
	cpu        map[string]float64 // least CPU µs per item of each benchmark
	signetBin  string             // the compiled tests of cmd/signet
}

func main() {
	var s suite
	out := flag.String("out", "BENCHMARKS.md", "write the table into this `file`; empty: do not write")
	flag.IntVar(&s.rounds, "rounds", 5, "rounds of the in-process benchmarks; each figure is the best round")
	flag.StringVar(&s.benchtime, "benchtime", "1s", "go test -benchtime of each in-process benchmark")
	flag.DurationVar(&s.httpDur, "http", 10*time.Second, "duration of each HTTP load case; 0 runs the in-process cases only")
	flag.StringVar(&s.bin, "bin", "bin/signet", "the signet `binary`")
	budget := flag.Duration("budget", 9*time.Minute, "stop starting new work after this long")
	clusterOnly := flag.Bool("cluster-only", false, "run only the cluster cases (PostgreSQL state vs SQLite)")
	floorKey := flag.String(floorFlag, "", "serve the floor server with this PEM `key` (the HTTP cases start it)")
	peerURL := flag.String("peer-url", "", "compare with OpenBao transit at this `URL` (key bench, token in $BAO_TOKEN) and print the table only; scripts/peers/openbao sets it")
	peerPID := flag.Int("peer-pid", 0, "the peer's process `id`, for its CPU time and peak RSS")
	peerRuns := flag.Int("peer-runs", 6, "runs of the peer comparison, alternating the servers")
	flag.Parse()
	if *floorKey != "" {
		fatal(serveFloor(*floorKey))
	}
	s.deadline = time.Now().Add(*budget)
	s.cpu = map[string]float64{}
	s.log = os.Stderr
	var err error
	if s.root, err = os.Getwd(); err != nil {
		fatal(err)
	}
	if s.tmp, err = os.MkdirTemp("", "signet-bench-"); err != nil {
		fatal(err)
	}
	defer os.RemoveAll(s.tmp)
	ctx := context.Background()
	if *peerURL != "" {
		if err := s.peerTable(ctx, *peerURL, *peerPID, *peerRuns); err != nil {
			fatal(err)
		}
		return
	}
	m := machine()
	start := time.Now()

	if !*clusterOnly {
		if err := s.inProcess(ctx); err != nil {
			fatal(err)
		}
	}
	if s.httpDur > 0 && !*clusterOnly {
		s.httpCases(ctx)
	}
	if s.httpDur > 0 && !time.Now().After(s.deadline) {
		s.clusterCases(ctx)
	}
	m.load += " → " + loadAvg()
	m.took = time.Since(start).Round(time.Second)

	slices.SortStableFunc(s.results, func(a, b result) int { return order(a.name) - order(b.name) })
	if *out != "" {
		if err := s.writeMarkdown(*out, m); err != nil {
			fatal(err)
		}
		fmt.Printf("wrote %s\n", *out)
	}
	for _, r := range s.results {
		fmt.Println(r.line())
	}
}

// order puts the cases first, in its order, then the others by name.
func order(name string) int {
	for i, n := range []string{"pipeline-batch-p256", "http-batch-p256", "http-single-p256", "http-dsm-batch-p256", "http-dsm-single-p256", "http-nethsm-single-p256", "pipeline-batch-rsa3072", "stream-1gib", "vs-openssl-folder"} {
		if n == name {
			return i
		}
	}
	return 100
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchsuite:", err)
	os.Exit(1)
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "bench: "+format+"\n", args...)
}

// --- in-process pairs ---------------------------------------------------

// kebab turns a camelCase case name into kebab-case, keeping digits with the
// word before them and acronyms whole: pipelineBatchRSA3072 →
// pipeline-batch-rsa3072, signNetHSMBT → sign-nethsm-bt.
func kebab(name string) string {
	name = strings.ReplaceAll(name, "NetHSM", "Nethsm")
	var b strings.Builder
	rs := []rune(name)
	isUpper := func(r rune) bool { return r >= 'A' && r <= 'Z' }
	isLower := func(r rune) bool { return r >= 'a' && r <= 'z' }
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	for i, r := range rs {
		if i > 0 && isUpper(r) {
			prev := rs[i-1]
			if isLower(prev) || isDigit(prev) || isUpper(prev) && i+1 < len(rs) && isLower(rs[i+1]) {
				b.WriteByte('-')
			}
		}
		if r == '_' {
			r = '-'
		}
		b.WriteRune(toLower(r))
	}
	return b.String()
}

func toLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// suitePackages lists the package folders whose tests declare a
// BenchmarkSuite_ function.
func suitePackages(root string) ([]string, error) {
	seen := map[string]bool{}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bin" || n == "signet-data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") || seen[filepath.Dir(p)] {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(src, []byte("func BenchmarkSuite_")) {
			seen[filepath.Dir(p)] = true
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	return dirs, err
}

// benchLine matches a go test benchmark result with an items/s metric.
var benchLine = regexp.MustCompile(`^BenchmarkSuite_(\w+?)(?:-\d+)?\s+\d+\s+.*?([\d.e+]+) items/s`)

// cpuMetric matches the optional CPU time per item a suite benchmark may
// report besides items/s.
var cpuMetric = regexp.MustCompile(`([\d.e+]+) cpu-µs/item`)

// skipLine matches a skipped or failed benchmark; the reason is on the
// next line.
var skipLine = regexp.MustCompile(`^\s*--- (SKIP|FAIL): BenchmarkSuite_(\w+?)(?:-\d+)?(?:\s|$)`)

// reasonLine is the t.Log line that follows a SKIP line.
var reasonLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)

// inProcess compiles the test binaries of the packages with suite
// benchmarks, runs them s.rounds times and keeps the best figure of each
// benchmark, since on a shared machine noise only ever slows a run down.
func (s *suite) inProcess(ctx context.Context) error {
	dirs, err := suitePackages(s.root)
	if err != nil {
		return err
	}
	best := map[string]float64{}
	byRound := map[string]map[int][]float64{} // each benchmark's figures in each round
	skipped := map[string]string{}
	var names []string
	type bin struct{ dir, path string }
	var bins []bin
	for i, dir := range dirs {
		path := filepath.Join(s.tmp, fmt.Sprintf("suite%d.test", i))
		rel, _ := filepath.Rel(s.root, dir)
		s.logf("compiling the benchmarks of ./%s", rel)
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", path, "./"+rel)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go test -c ./%s: %w", rel, err)
		}
		bins = append(bins, bin{dir, path})
		if strings.HasSuffix(dir, filepath.Join("cmd", "signet")) {
			s.signetBin = path
		}
	}
	// run runs a suite binary with args and records what it measured in
	// round; it returns the benchmarks (without BenchmarkSuite_) it saw.
	run := func(path, dir string, round int, args ...string) map[string]bool {
		seen := map[string]bool{}
		cmd := testBinary(ctx, path, dir, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			s.logf("%s failed: %v\n%s", dir, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		var reason string // go test -v prints a benchmark's log before its SKIP or FAIL line
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "Benchmark") {
				reason = ""
			}
			if m := reasonLine.FindStringSubmatch(line); m != nil {
				reason = m[1]
				continue
			}
			if m := skipLine.FindStringSubmatch(line); m != nil {
				switch {
				case m[1] == "FAIL" && reason != "":
					skipped[m[2]] = "failed: " + reason
				case m[1] == "FAIL":
					skipped[m[2]] = "failed"
				case reason != "":
					skipped[m[2]] = reason
				default:
					skipped[m[2]] = "skipped"
				}
				continue
			}
			m := benchLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				continue
			}
			if _, ok := best[m[1]]; !ok {
				names = append(names, m[1])
			}
			fmt.Fprintln(s.log, line)
			best[m[1]] = max(best[m[1]], v)
			if byRound[m[1]] == nil {
				byRound[m[1]] = map[int][]float64{}
			}
			byRound[m[1]][round] = append(byRound[m[1]][round], v)
			seen[m[1]] = true
			if c := cpuMetric.FindStringSubmatch(line); c != nil {
				if cv, err := strconv.ParseFloat(c[1], 64); err == nil && (s.cpu[m[1]] == 0 || cv < s.cpu[m[1]]) {
					s.cpu[m[1]] = cv
				}
			}
		}
		return seen
	}
	s.profileDSM(ctx)
	for round := 1; round <= s.rounds; round++ {
		if round > 1 && time.Now().After(s.deadline.Add(-4*time.Minute)) {
			s.logf("time budget: round %d of the in-process benchmarks skipped", round)
			break
		}
		for _, b := range bins {
			s.logf("round %d: %s", round, b.dir)
			args := []string{"-test.run", "^$", "-test.bench", "^BenchmarkSuite_", "-test.benchtime", s.benchtime, "-test.v"}
			if round == 1 && strings.HasSuffix(b.dir, filepath.Join("cmd", "signet")) {
				s.profile = s.runProfile(ctx, b.path, b.dir, "BenchmarkSuite_pipelineBatchP256", "3s", pipelineParts)
				if p := s.runProfile(ctx, b.path, b.dir, "BenchmarkHTTPSingle", "10000x", httpParts); p != "" {
					s.profile += "\n" + p
				}
				if p := s.runProfile(ctx, b.path, b.dir, "BenchmarkHTTPBatchDSM", "100x", dsmHTTPParts); p != "" {
					s.profile += "\n" + p
				}
			}
			seen := run(b.path, b.dir, round, args...)
			// The same pairs again, each baseline first: the round's
			// figures are then case, baseline, baseline, case, so that the
			// machine's drift over the four (the same raw signing cost 23–34
			// CPU µs per signature from one round to the next) weighs on both
			// sides alike instead of on whichever ran second.
			for _, c := range slices.Sorted(maps.Keys(seen)) {
				if seen[c] && seen[c+"_baseline"] {
					run(b.path, b.dir, round, "-test.run", "^$", "-test.bench", "^BenchmarkSuite_"+c+"_baseline$", "-test.benchtime", s.benchtime, "-test.v")
					run(b.path, b.dir, round, "-test.run", "^$", "-test.bench", "^BenchmarkSuite_"+c+"$", "-test.benchtime", s.benchtime, "-test.v")
				}
			}
		}
	}
	cases := map[string]bool{}
	for _, n := range append(names, slices.Collect(maps.Keys(skipped))...) {
		cases[strings.TrimSuffix(n, "_baseline")] = true
	}
	for _, c := range slices.Sorted(maps.Keys(cases)) {
		r := result{name: kebab(c), unit: "items/s", goal: goals[kebab(c)],
			note: fmt.Sprintf("Go benchmarks BenchmarkSuite_%s and _baseline in each of %d rounds, case, baseline, baseline, case, both with signet serve's GOGC (%s); value and baseline: the best run of each; ratio: the median of the rounds' ratios (the mean of a round's two runs of each side), ratio_min the least", c, s.rounds, serveGOGC())}
		v, okV := best[c]
		base, okB := best[c+"_baseline"]
		switch {
		case skipped[c] != "":
			r.skipped = skipped[c]
		case skipped[c+"_baseline"] != "":
			r.skipped = "baseline: " + skipped[c+"_baseline"]
		case !okV || !okB:
			r.skipped = "the pair is incomplete: define BenchmarkSuite_" + c + " and BenchmarkSuite_" + c + "_baseline, both reporting items/s"
		default:
			r.value, r.baseline = v, base
			var ratios []float64
			for round, rv := range byRound[c] {
				if rb := mean(byRound[c+"_baseline"][round]); rb > 0 {
					ratios = append(ratios, mean(rv)/rb)
				}
			}
			if len(ratios) > 0 {
				slices.Sort(ratios)
				r.median = ratios[len(ratios)/2]
				if len(ratios)%2 == 0 {
					r.median = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
				}
				r.extra = fmt.Sprintf("ratio_min=%.3f rounds=%d", ratios[0], len(ratios))
			}
			if cv, cb := s.cpu[c], s.cpu[c+"_baseline"]; cv > 0 && cb > 0 {
				r.extra = strings.TrimSpace(r.extra + fmt.Sprintf(" cpu_ratio=%.3f", cb/cv))
			}
		}
		s.results = append(s.results, r)
	}
	return nil
}

// mean is the arithmetic mean of vs (0 for none).
func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs))
}

// testBinary is the command that runs a compiled test binary in dir with
// the garbage collector signet serve sets for itself (serveGOGC), so that
// the in-process cases measure the worker pipeline as the server runs it,
// their baselines in the same conditions: at Go's default of 100 the
// collector took 5–8 % of pipeline-batch-p256's CPU against 4 % of the raw
// baseline's, at 400 1.5 % against 0.7 % (CPU profiles, load average 2.4).
func testBinary(ctx context.Context, bin, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOGC="+serveGOGC())
	return cmd
}

// serveGOGC is the GOGC signet serve runs with here (server.GOGC).
func serveGOGC() string {
	v, _ := signetserver.GOGC()
	return v
}

// profiled names a function of a CPU profile and what it stands for.
type profiled struct{ fn, what string }

// pipelineParts and httpParts are the functions whose cumulative share of
// the CPU profile BENCHMARKS.md lists (shares overlap: a caller's includes
// its callees').
var (
	pipelineParts = []profiled{
		{"tokens.signEach.func1", "signing: ecdsa.Sign in tokens.SignAll's goroutines"},
		{"workers.(*CMSSigner).prepareBatch", "batch request: read and prepared (includes the next two on the reading goroutine)"},
		{"workers.decodeBatchBlocks", "batch request: the JSON reader (serial)"},
		{"workers.(*batchPreparer).claim", "items: base64, checks, signed attributes (cms.Prepare), in blocks on every core"},
		{"workers.(*batchAnswer).encode", "response: DER and base64 per item (parallel, with the standby helpers)"},
		{"workers.(*standby).start.func1", "standby helpers: waiting for the answer, then writing it (includes their share of the line above)"},
		{"runtime.mallocgc", "allocation (all callers)"},
		{"runtime.gcBgMarkWorker", "garbage collector, background"},
		{"runtime.gcAssistAlloc", "garbage collector, assists"},
		{"runtime.findRunnable", "scheduler: looking for work"},
	}
	httpParts = []profiled{
		{"crypto/ecdsa.SignASN1", "signing: ecdsa.Sign"},
		{"net/http.(*conn).serve", "server: net/http connection (includes the handler)"},
		{"web.(*Server).observe-fm.(*Server).observe.func1", "server: echo handler chain, routing, logging, metrics (includes the worker)"},
		{"workers.(*CMSSigner).Process", "server: worker (includes signing)"},
		{"web.logRequest", "server: the request log line"},
		{"sqlite.(*Store).logWriter", "server: the signing log writer (SQLite group commit, its own goroutine)"},
		{"loadgen.runBench.func1", "client: signet client bench request loop"},
		{"net/http.(*persistConn).readLoop", "client: net/http transport, reading"},
		{"net/http.(*persistConn).writeLoop", "client: net/http transport, writing"},
		{"internal/runtime/syscall/linux.Syscall6", "system calls, both sides (socket reads and writes)"},
		{"runtime.mallocgc", "allocation (all callers)"},
		{"runtime.gcBgMarkWorker", "garbage collector, background"},
	}
	dsmParts = []profiled{
		{"crypto/ecdsa.SignASN1", "signing: ecdsa.Sign"},
		{"dsm.(*Handler).batchSign", "the DSM batch handler (the signatures run in tokens.SignAll's goroutines, not under it)"},
		{"dsm.parseBatch", "batch request: the one-pass reader"},
		{"encoding/json.Unmarshal", "encoding/json (other shapes only)"},
		{"dsm.appendResults", "response: the hand-written writer"},
		{"runtime.mallocgc", "allocation (all callers)"},
		{"runtime.gcBgMarkWorker", "garbage collector, background"},
	}
	dsmHTTPParts = []profiled{
		{"crypto/ecdsa.SignASN1", "signing: ecdsa.Sign"},
		{"net/http.(*conn).serve", "server: net/http connection (the handler included, not the signatures: they run in tokens.SignAll's goroutines)"},
		{"dsm.(*Handler).batchSign", "server: the DSM batch handler"},
		{"web/auth.(*Authenticator).Decide", "server: HTTP basic credentials (bcrypt on a new server's first checks)"},
		{"sqlite.(*Store).logWriter", "server: the signing log writer (one record of 1000 hashes per batch)"},
		{"sqlite.(*signWriter).fold", "server: the signing log's hash index, written every foldAt (8192) hashes"},
		{"net/http.(*persistConn).readLoop", "client: net/http transport, reading"},
		{"runtime.mallocgc", "allocation (all callers)"},
		{"runtime.gcBgMarkWorker", "garbage collector, background"},
	}
)

// profileDSM adds the CPU profile of the DSM batch handler in process
// (web/dsm BenchmarkBatchSign: 1000 P-256 digests, soft token).
func (s *suite) profileDSM(ctx context.Context) {
	dir := filepath.Join(s.root, "web", "dsm")
	bin := filepath.Join(s.tmp, "dsm.test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./web/dsm")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Run(); err != nil {
		s.logf("go test -c ./web/dsm: %v", err)
		return
	}
	if p := s.runProfile(ctx, bin, dir, "BenchmarkBatchSign", "20x", dsmParts); p != "" {
		s.dsmProfile = p
	}
}

// profileLine is a line of pprof -top.
var profileLine = regexp.MustCompile(`^\s*\S+\s+\S+%\s+\S+%\s+\S+\s+(\S+)%\s+(.*)$`)

// runProfile runs benchmark bench of the test binary bin (cmd/signet's,
// or web/dsm's for profileDSM) in dir with a CPU profile and keeps pprof's
// cumulative shares of parts for BENCHMARKS.md.
func (s *suite) runProfile(ctx context.Context, bin, dir, bench, benchtime string, parts []profiled) string {
	prof := filepath.Join(s.tmp, "cpu.pprof")
	s.logf("CPU profile of %s", bench)
	cmd := testBinary(ctx, bin, dir, "-test.run", "^$", "-test.bench", "^"+bench+"$",
		"-test.benchtime", benchtime, "-test.cpuprofile", prof)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.logf("profile run failed: %v\n%s", err, out)
		return ""
	}
	var figures string
	for l := range strings.Lines(string(out)) {
		if strings.HasPrefix(l, bench) {
			figures = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=3000", bin, prof).Output()
	if err != nil {
		s.logf("pprof: %v", err)
		return ""
	}
	share := map[string]string{}
	var head []string
	for l := range strings.Lines(string(top)) {
		l = strings.TrimRight(l, "\n")
		if m := profileLine.FindStringSubmatch(l); m != nil {
			name := strings.TrimSpace(m[2])
			for _, p := range parts {
				if name == p.fn || strings.HasSuffix(name, "/"+p.fn) {
					share[p.fn] = m[1]
				}
			}
		} else if strings.HasPrefix(l, "Duration") {
			head = append(head, l)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s (%s).\n\n| share of CPU (cumulative) | function | what |\n|---|---|---|\n", bench, figures, strings.Join(head, " "))
	for _, p := range parts {
		v := share[p.fn]
		if v == "" {
			v = "< 0.5"
		}
		fmt.Fprintf(&b, "| %s%% | `%s` | %s |\n", v, p.fn, p.what)
	}
	return b.String()
}

// --- HTTP cases ---------------------------------------------------------

// server is a bin/signet serve process.
type server struct {
	cmd  *exec.Cmd
	pid  int // a server this harness did not start (a peer), when cmd is nil
	url  string
	data string
}

func (v *server) procPID() int {
	if v.cmd != nil {
		return v.cmd.Process.Pid
	}
	return v.pid
}

// startServer bootstraps the demo keys in a new data folder and serves
// testdata/bench/bench.yaml from it.
func (s *suite) startServer(ctx context.Context, name string, args ...string) (*server, error) {
	data := filepath.Join(s.tmp, name)
	if os.Getenv(demo.PasswordEnv) == "" {
		os.Setenv(demo.PasswordEnv, "bench-password")
	}
	os.Setenv(loadgen.PasswordEnv, os.Getenv(demo.PasswordEnv)) // the bench user's, for signet client bench -api
	if err := copyDir(filepath.Join(os.TempDir(), "signet-bench-keys"), data); err != nil {
		if _, _, err := demo.Bootstrap(ctx, data); err != nil {
			return nil, err
		}
	}
	cfg, err := os.ReadFile(filepath.Join(s.root, "testdata", "bench", "bench.yaml"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(data, "bench.yaml"), cfg, 0o600); err != nil {
		return nil, err
	}
	all := append([]string{"serve", "--config", filepath.Join(data, "bench.yaml"), "--data", data, "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(s.bin, all...)
	logf, err := os.Create(filepath.Join(data, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{cmd: cmd, data: data}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Signet listening on "); ok {
			srv.url = u
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if srv.url == "" {
		srv.stop()
		log, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("the server did not start:\n%s", log)
	}
	return srv, nil
}

func (v *server) stop() {
	_ = v.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = v.cmd.Process.Kill()
		<-done
	}
}

// cpu is the server's user and system CPU time so far (clock ticks of
// 10 ms, Linux's USER_HZ).
func (v *server) cpu() time.Duration {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", v.procPID()))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// peakRSS is the server's peak resident set size (VmHWM), in bytes.
func (v *server) peakRSS() (int64, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", v.procPID()))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(st)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// benchOut is what signet client bench -json prints.
type benchOut struct {
	Seconds    float64          `json:"seconds"`
	Requests   int64            `json:"requests"`
	RequestsPS float64          `json:"requestsPerSecond"`
	ItemsPS    float64          `json:"itemsPerSecond"`
	P99        float64          `json:"p99Ms"`
	Errors     map[string]int64 `json:"errors"`
}

// clientBench runs signet client bench -json and returns its result and
// the CPU time it used.
func (s *suite) clientBench(ctx context.Context, args ...string) (*benchOut, time.Duration, error) {
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"client", "bench", "-json", "-progress", "0"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var res benchOut
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		return nil, cpu, fmt.Errorf("signet client bench: %v %s", err, stderr.String())
	}
	if len(res.Errors) > 0 {
		return &res, cpu, fmt.Errorf("signet client bench: errors %v", res.Errors)
	}
	return &res, cpu, nil
}

func (s *suite) find(name string) *result {
	for i := range s.results {
		if s.results[i].name == name {
			return &s.results[i]
		}
	}
	return nil
}

func (s *suite) add(r result, err error) {
	r.goal = goals[r.name]
	if err != nil {
		r.skipped = err.Error()
		s.logf("%s: %v", r.name, err)
	}
	s.results = append(s.results, r)
}

// rawP256 measures the raw ECDSA P-256 baseline again, right before an
// HTTP case, and returns the best items/s seen so far: the HTTP cases are
// compared with the machine at its least loaded, never flattered.
func (s *suite) rawP256(ctx context.Context, best float64) float64 {
	if s.signetBin == "" {
		return best
	}
	cmd := testBinary(ctx, s.signetBin, filepath.Join(s.root, "cmd", "signet"), "-test.run", "^$", "-test.bench", "^BenchmarkSuite_pipelineBatchP256_baseline$", "-test.benchtime", "1s")
	out, err := cmd.Output()
	if err != nil {
		s.logf("raw baseline: %v", err)
		return best
	}
	for l := range strings.Lines(string(out)) {
		if m := benchLine.FindStringSubmatch(l); m != nil {
			if v, err := strconv.ParseFloat(m[2], 64); err == nil {
				best = max(best, v)
			}
			if c := cpuMetric.FindStringSubmatch(l); c != nil {
				if cv, err := strconv.ParseFloat(c[1], 64); err == nil && (s.cpu[m[1]] == 0 || cv < s.cpu[m[1]]) {
					s.cpu[m[1]] = cv
				}
			}
		}
	}
	return best
}

// cpuRatio is the raw signature's CPU time per item over the HTTP case's
// (server and client), or "" when either is unknown.
func (s *suite) cpuRatio(serverCPU, clientCPU time.Duration, items float64) string {
	raw := s.cpu["pipelineBatchP256_baseline"]
	if raw == 0 || items == 0 || serverCPU <= 0 {
		return ""
	}
	per := float64((serverCPU + clientCPU).Microseconds()) / items
	return fmt.Sprintf(" cpu_us_per_item=%.1f cpu_ratio=%.3f", per, raw/per)
}

// httpCase is one HTTP load case: signet client bench args against
// Signet, and the same load against the floor server (floorArgs).
type httpCase struct {
	name, unit, note string
	args, floorArgs  []string
	items            float64 // items per request
}

func (s *suite) httpCases(ctx context.Context) {
	raw := 0.0
	if r := s.find("pipeline-batch-p256"); r != nil {
		raw = r.baseline
	}
	d := s.httpDur.String()
	batch := []string{"-clientside", "-batch", "1000", "-c", "4", "-d", d}
	single := []string{"-c", "32", "-d", d}
	floorBatch := append([]string{"-api", "floor"}, batch...)
	floorDigest := []string{"-api", "floor", "-clientside", "-c", "32", "-d", d}
	vendor := []string{"-user", "bench", "-key", "signer-p256"}
	cases := []httpCase{
		{"http-batch-p256", "items/s", "signet client bench -rest -batch 1000 -clientside -c 4: batches through SignServer's REST API on loopback (the batch JSON base64 in data)",
			append([]string{"-worker", "CAdESSigner", "-rest"}, batch...), floorBatch, 1000},
		{"http-single-p256", "req/s", "signet client bench -size 1024 -c 32 (one 1 KiB document per request, keep-alive, detached CAdES-B)",
			append([]string{"-worker", "CAdESSigner", "-size", "1024"}, single...), append([]string{"-api", "floor", "-size", "1024"}, single...), 1},
		{"http-dsm-batch-p256", "items/s", "signet client bench -api dsm -batch 1000 -c 4: raw signatures through the Fortanix DSM batch API (HTTP basic credentials on every request)",
			append(append([]string{"-api", "dsm"}, vendor...), batch...), floorBatch, 1000},
		{"http-dsm-single-p256", "req/s", "signet client bench -api dsm -c 32: one digest per request through the DSM sign API",
			append(append([]string{"-api", "dsm"}, vendor...), single...), floorDigest, 1},
		{"http-nethsm-single-p256", "req/s", "signet client bench -api nethsm -c 32: one digest per request through the NetHSM sign API",
			append(append([]string{"-api", "nethsm"}, vendor...), single...), floorDigest, 1},
	}
	srv, err := s.startServer(ctx, "http")
	var floor *server
	if err == nil {
		if floor, err = s.startFloor(ctx, srv.data); err != nil {
			srv.stop()
		} else if err = sameScheme(srv.url, floor.url); err != nil {
			floor.stop()
			srv.stop()
		}
	}
	if err != nil {
		for _, c := range cases {
			s.add(result{name: c.name, unit: c.unit}, err)
		}
		s.add(result{name: "vs-openssl-folder", unit: "docs/s"}, err)
	} else {
		for _, c := range cases {
			raw = s.rawP256(ctx, raw)
			s.add(s.freshHTTPCase(ctx, c, floor, raw))
		}
		floor.stop()
		s.logf("vs-openssl-folder")
		s.add(s.vsOpenSSL(ctx, srv))
		srv.stop()
	}
	if time.Now().After(s.deadline) {
		s.add(result{name: "stream-1gib", unit: "MiB/s"}, errors.New("time budget exhausted"))
		return
	}
	s.logf("stream-1gib")
	s.add(s.stream(ctx))
}

// freshHTTPCase runs c against a Signet of its own, started on a new data
// folder: the signing log's cost per record grows with its size (an aged
// log of ~430 MB cost 74 against 57 server CPU µs per DSM batch item, 229
// against 201 per single request, alternating in four rounds), so cases
// run one after the other on one server measured each later case on a
// bigger log, and http-dsm-batch-p256, third, against http-batch-p256,
// first, was not a like-for-like comparison.
func (s *suite) freshHTTPCase(ctx context.Context, c httpCase, floor *server, raw float64) (result, error) {
	srv, err := s.startServer(ctx, c.name)
	if err != nil {
		return result{name: c.name, unit: c.unit}, err
	}
	defer srv.stop()
	// A warm-up, not measured: a new server checks each client's
	// credentials with bcrypt once before it remembers them (32 at once,
	// several ms of CPU each), which a short case would count.
	warm := append(append([]string{"-url", srv.url}, c.args...), "-d", "1s")
	if _, _, err := s.clientBench(ctx, warm...); err != nil {
		return result{name: c.name, unit: c.unit}, fmt.Errorf("warm-up: %w", err)
	}
	return s.httpCase(ctx, c, srv, floor, raw)
}

// httpCase runs c against the floor server and then against Signet, and
// reports Signet's rate with raw signing as the baseline and the floor's
// rate beside it.
func (s *suite) httpCase(ctx context.Context, c httpCase, srv, floor *server, raw float64) (result, error) {
	r := result{name: c.name, unit: c.unit, baseline: raw,
		note: c.note + "; baseline: raw ecdsa.Sign (pipeline-batch-p256's baseline, measured again just before, best run); floor: the bench floor server (net/http, ecdsa.SignASN1; plain HTTP on loopback as Signet's bench server, bench.yaml having no server section; the same GOGC) under the same load, measured just before; each case on a Signet of its own (a new signing log), after a 1 s warm-up"}
	s.logf("%s: the floor server for %s", c.name, s.httpDur)
	fcpu0 := floor.cpu()
	fres, fclient, err := s.clientBench(ctx, append([]string{"-url", floor.url}, c.floorArgs...)...)
	if err != nil {
		return r, fmt.Errorf("floor server: %w", err)
	}
	fcpu := floor.cpu() - fcpu0
	s.logf("%s for %s", c.name, s.httpDur)
	cpu0 := srv.cpu()
	res, clientCPU, err := s.clientBench(ctx, append([]string{"-url", srv.url}, c.args...)...)
	if res == nil {
		return r, err
	}
	r.value = res.RequestsPS
	if c.unit == "items/s" {
		r.value = res.ItemsPS
	}
	fv := fres.RequestsPS
	if c.unit == "items/s" {
		fv = fres.ItemsPS
	}
	items := float64(res.Requests) * c.items
	r.extra = fmt.Sprintf("floor=%s floor_ratio=%.3f p99=%.1fms", num(fv), r.value/fv, res.P99) + s.cpuRatio(srv.cpu()-cpu0, clientCPU, items)
	if fitems := float64(fres.Requests) * c.items; fitems > 0 && items > 0 && fcpu > 0 {
		fper := float64((fcpu + fclient).Microseconds()) / fitems
		per := float64((srv.cpu() - cpu0 + clientCPU).Microseconds()) / items
		r.extra += fmt.Sprintf(" floor_cpu_ratio=%.3f", fper/per)
	}
	return r, err
}

// stream uploads 1 GiB to a fresh server (so that its VmHWM is this case's)
// and compares with sha256sum of the same file.
func (s *suite) stream(ctx context.Context) (result, error) {
	const size = 1 << 30
	r := result{name: "stream-1gib", unit: "MiB/s",
		note: "signet client bench -file (1 GiB, streamed, detached CAdES) vs sha256sum of the same cached file; peak RSS is the server's VmHWM"}
	file := filepath.Join(s.tmp, "1gib.bin")
	if err := writeFile(file, size); err != nil {
		return r, err
	}
	defer os.Remove(file)
	_ = exec.CommandContext(ctx, "cat", file).Run() // into the page cache for both
	t0 := time.Now()
	if out, err := exec.CommandContext(ctx, "sha256sum", file).CombinedOutput(); err != nil {
		return r, fmt.Errorf("sha256sum: %v %s", err, out)
	}
	r.baseline = float64(size>>20) / time.Since(t0).Seconds()
	srv, err := s.startServer(ctx, "stream", "--max-upload", strconv.Itoa(2*size))
	if err != nil {
		return r, err
	}
	defer srv.stop()
	res, _, err := s.clientBench(ctx, "-url", srv.url, "-worker", "CAdESSigner", "-file", file, "-n", "1", "-c", "1")
	if err != nil {
		return r, err
	}
	r.value = float64(size>>20) / res.Seconds
	rss, err := srv.peakRSS()
	if err != nil {
		return r, err
	}
	r.extra = fmt.Sprintf("peak_rss=%.1fMiB", float64(rss)/(1<<20))
	return r, nil
}

// writeFile writes size bytes of a repeated random block.
func writeFile(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(rand.IntN(256))
	}
	for n := int64(0); n < size; n += int64(len(block)) {
		if _, err := f.Write(block[:min(int64(len(block)), size-n)]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// vsOpenSSL signs 1000 files of 4 KiB as detached CMS with signet client
// sign and with a shell loop of openssl cms -sign, with the same RSA key.
func (s *suite) vsOpenSSL(ctx context.Context, srv *server) (result, error) {
	const files = 1000
	r := result{name: "vs-openssl-folder", unit: "docs/s",
		note: "1000 files of 4 KiB, detached CMS, RSA-3072: signet client sign -threads 4 (worker CMSDetached) vs a shell loop of openssl cms -sign"}
	in := filepath.Join(s.tmp, "folder")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return r, err
	}
	doc := make([]byte, 4096)
	for i := range files {
		for j := range doc {
			doc[j] = byte(rand.IntN(256))
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%04d.bin", i)), doc, 0o644); err != nil {
			return r, err
		}
	}
	keyFile, certFile, err := exportKey(srv.data, "signer-rsa3072", s.tmp)
	if err != nil {
		return r, err
	}
	outO := filepath.Join(s.tmp, "openssl-out")
	if err := os.MkdirAll(outO, 0o755); err != nil {
		return r, err
	}
	loop := `for f in "$1"/*; do openssl cms -sign -binary -md sha256 -in "$f" -signer "$2" -inkey "$3" -outform DER -out "$4/$(basename "$f").p7s" || exit 1; done`
	t0 := time.Now()
	if out, err := exec.CommandContext(ctx, "bash", "-c", loop, "loop", in, certFile, keyFile, outO).CombinedOutput(); err != nil {
		return r, fmt.Errorf("openssl loop: %v %s", err, out)
	}
	r.baseline = files / time.Since(t0).Seconds()
	t0 = time.Now()
	out, err := exec.CommandContext(ctx, s.bin, "client", "sign", "-url", srv.url, "-worker", "CMSDetached", "-threads", "4", "-out", filepath.Join(s.tmp, "signet-out"), in).CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("signet client sign: %v %s", err, out)
	}
	r.value = files / time.Since(t0).Seconds()
	return r, nil
}

// exportKey writes the PEM key and certificate of a demo keystore entry for
// openssl.
func exportKey(data, alias, dir string) (string, string, error) {
	p12, err := os.ReadFile(filepath.Join(data, "keystore", alias+".p12"))
	if err != nil {
		return "", "", err
	}
	pin, err := os.ReadFile(filepath.Join(data, "keystore.pin"))
	if err != nil {
		return "", "", err
	}
	key, cert, _, err := pkcs12.DecodeChain(p12, strings.TrimSpace(string(pin)))
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	keyFile, certFile := filepath.Join(dir, alias+".key"), filepath.Join(dir, alias+".pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return keyFile, certFile, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// copyDir copies the regular files of src into dst, recursively.
func copyDir(src, dst string) error {
	if _, err := os.Stat(filepath.Join(src, "keystore")); err != nil {
		return err
	}
	return os.CopyFS(dst, os.DirFS(src))
}

// --- report -------------------------------------------------------------

type machineInfo struct {
	cpu, date, commit, load, goVersion string
	cores                              int
	took                               time.Duration
}

func machine() machineInfo {
	m := machineInfo{cpu: "unknown", date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), cores: runtime.NumCPU(), load: loadAvg(), goVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.commit += " (with uncommitted changes)"
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

const (
	notesBegin = "<!-- notes:begin -->"
	notesEnd   = "<!-- notes:end -->"
)

// writeMarkdown writes the table into path, keeping the hand-written notes
// between the notes markers of the existing file.
func (s *suite) writeMarkdown(path string, m machineInfo) error {
	notes := notesBegin + "\n" + notesEnd
	if old, err := os.ReadFile(path); err == nil {
		if i, j := bytes.Index(old, []byte(notesBegin)), bytes.Index(old, []byte(notesEnd)); i >= 0 && j > i {
			notes = string(old[i : j+len(notesEnd)])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (scripts/benchsuite); the notes section is kept from one run to the next.\n\n")
	fmt.Fprintf(&b, "- date: %s, took %s\n- commit: %s\n- machine: %s, %d cores, %s\n- load average (1, 5, 15 min) before → after: %s\n\n", m.date, m.took, m.commit, m.cpu, m.cores, m.goVersion, m.load)
	fmt.Fprintf(&b, "| case | value | baseline | ratio | more | goal |\n|---|---|---|---|---|---|\n")
	for _, r := range s.results {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | %s |\n", r.name, r.skipped, r.goal)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s | %.3f | %s | %s |\n", r.name, num(r.value), r.unit, num(r.baseline), r.ratio(), r.extra, r.goal)
	}
	fmt.Fprintf(&b, "\nHow each case is measured:\n\n")
	for _, r := range s.results {
		if r.note != "" {
			fmt.Fprintf(&b, "- %s: %s\n", r.name, r.note)
		}
	}
	fmt.Fprintf(&b, "\n```\n")
	for _, r := range s.results {
		fmt.Fprintln(&b, r.line())
	}
	fmt.Fprintf(&b, "```\n\n%s\n", notes)
	if p := strings.TrimSpace(s.profile + "\n" + s.dsmProfile); p != "" {
		fmt.Fprintf(&b, "\n## Where the time goes (CPU profiles of this run)\n\n%s\n", p)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
