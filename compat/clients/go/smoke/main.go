// Command smoke exercises Weir with Go Kafka clients the way an application would: Sarama,
// segmentio/kafka-go and franz-go's admin package (kadm). One suite per run (--suite); one
// PASS/FAIL/SKIP line per check, ending with "N passed, N failed, N skipped"; exit 1 if any
// check failed. See compat/clients/README.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// skipError marks a check the client (or this broker setup) cannot run.
type skipError struct{ reason string }

func (s skipError) Error() string { return s.reason }

func skip(format string, a ...any) error { return skipError{fmt.Sprintf(format, a...)} }

type runner struct {
	suite               string
	pass, fail, skipped int
}

// check runs fn with its own deadline and a watchdog: a client stuck in a retry loop fails this
// check (and leaks its goroutine) instead of hanging the suite.
func (r *runner) check(name string, timeout time.Duration, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout + 5*time.Second):
		err = fmt.Errorf("watchdog: no result after %s", timeout+5*time.Second)
	}
	took := time.Since(start).Seconds()
	var s skipError
	switch {
	case errors.As(err, &s):
		fmt.Printf("SKIP %s: %s: %s\n", r.suite, name, s.reason)
		r.skipped++
	case err != nil:
		fmt.Printf("FAIL %s: %s: %s (%.1fs)\n", r.suite, name, oneLine(err.Error()), took)
		r.fail++
	default:
		fmt.Printf("PASS %s: %s (%.1fs)\n", r.suite, name, took)
		r.pass++
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

func comment(format string, a ...any) { fmt.Printf("# "+format+"\n", a...) }

// name returns a topic or group name unique to this run.
func name(suite, what string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("go-%s-%s-%s", suite, what, hex.EncodeToString(b[:]))
}

// eventually polls cond until it returns nil or ctx ends (metadata and group state settle
// asynchronously in Kafka too).
func eventually(ctx context.Context, cond func() error) error {
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "broker host:port")
	suite := flag.String("suite", "", "sarama | kafka-go | kadm")
	saramaVersion := flag.String("sarama-version", "", "Sarama config.Version (default: Sarama's own default)")
	label := flag.String("label", "", "suite name printed on each line (default: --suite)")
	flag.Parse()
	brokers := strings.Split(*bootstrap, ",")
	var r *runner
	switch *suite {
	case "sarama":
		r = &runner{suite: "sarama"}
		if *label != "" {
			r.suite = *label
		}
		runSarama(r, brokers, *saramaVersion)
	case "kafka-go":
		r = &runner{suite: "kafka-go"}
		runKafkaGo(r, brokers)
	case "kadm":
		r = &runner{suite: "kadm"}
		runKadm(r, brokers)
	default:
		fmt.Fprintf(os.Stderr, "unknown --suite %q\n", *suite)
		os.Exit(2)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", r.pass, r.fail, r.skipped)
	if r.fail > 0 {
		os.Exit(1)
	}
}
