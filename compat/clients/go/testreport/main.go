// Command testreport turns `go test -json` output into the compat suites' lines: one
// PASS/FAIL/SKIP line per top-level test (subtests fold into their parent), with a failing
// test's own log lines under it, and a final "N passed, N failed, N skipped". Exit status 1 if
// a test failed or the run ended without a result for some test (a panic or timeout).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

type event struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

// logLine matches what t.Log/t.Error print: an indented "file_test.go:123: message".
var logLine = regexp.MustCompile(`^\s+\S+_test\.go:\d+: `)

func main() {
	suite := flag.String("suite", "franz-go", "name printed on each line")
	rawLog := flag.String("raw", "", "also write the tests' plain output here")
	flag.Parse()
	var raw *os.File
	if *rawLog != "" {
		f, err := os.Create(*rawLog)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		raw = f
	}
	logs := map[string][]string{}
	running := map[string]bool{}
	var order []string
	pass, fail, skip := 0, 0, 0
	pkgFailed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Build errors and the like are not JSON: show them.
			fmt.Println("# " + sc.Text())
			continue
		}
		if raw != nil && e.Output != "" {
			raw.WriteString(e.Output)
		}
		if e.Test == "" {
			if e.Action == "fail" {
				pkgFailed = true
			}
			if e.Action == "output" && (strings.HasPrefix(e.Output, "panic:") || strings.Contains(e.Output, "test timed out")) {
				fmt.Print("# " + e.Output)
			}
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		switch e.Action {
		case "run":
			if top == e.Test {
				running[top] = true
				order = append(order, top)
			}
		case "output":
			if logLine.MatchString(e.Output) {
				logs[top] = append(logs[top], strings.TrimRight(e.Output, "\n"))
			}
		case "pass", "fail", "skip":
			if top != e.Test {
				continue
			}
			delete(running, top)
			switch e.Action {
			case "pass":
				pass++
				fmt.Printf("PASS %s: %s (%.1fs)\n", *suite, top, e.Elapsed)
			case "skip":
				skip++
				reason := ""
				if l := logs[top]; len(l) > 0 {
					reason = ": " + strings.TrimSpace(logLine.ReplaceAllString(l[len(l)-1], ""))
				}
				fmt.Printf("SKIP %s: %s%s\n", *suite, top, reason)
			case "fail":
				fail++
				fmt.Printf("FAIL %s: %s (%.1fs)\n", *suite, top, e.Elapsed)
				l := logs[top]
				if len(l) > 8 {
					l = append([]string{fmt.Sprintf("    ... %d earlier lines", len(l)-8)}, l[len(l)-8:]...)
				}
				for _, line := range l {
					fmt.Println("#   " + strings.TrimSpace(line))
				}
			}
		}
	}
	for _, t := range order {
		if running[t] {
			fail++
			fmt.Printf("FAIL %s: %s: no result (the test binary panicked or timed out)\n", *suite, t)
		}
	}
	if pkgFailed && fail == 0 {
		fail++
		fmt.Printf("FAIL %s: the package failed outside any test (see the raw log)\n", *suite)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", pass, fail, skip)
	if fail > 0 {
		os.Exit(1)
	}
}
