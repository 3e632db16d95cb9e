package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
)

// switchover implements `memgraph-gateway switchover --to NAME`: POST
// /v1/switchover to any gateway (a follower forwards it to the leader),
// then print the answer. Exit status: 0 the target is MAIN, 1 the
// switchover failed or no answer came, 2 usage (flags, no token).
func switchover(args, environ []string, stdout, stderr io.Writer) int {
	gateway := "http://127.0.0.1:9090"
	tokenFile := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GATEWAY_HTTP_ADDRESS="); ok && v != "" {
			gateway = v
		}
		if v, ok := strings.CutPrefix(kv, "GATEWAY_ADMIN_TOKEN_FILE="); ok && v != "" {
			tokenFile = v
		}
	}
	fs := flag.NewFlagSet("switchover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "the instance that must become MAIN (required)")
	fs.StringVar(&gateway, "gateway", gateway, "any gateway's HTTP API, a URL or host:port (env GATEWAY_HTTP_ADDRESS; the flag wins)")
	fs.StringVar(&tokenFile, "token-file", tokenFile, "file holding the admin bearer token (env GATEWAY_ADMIN_TOKEN_FILE; the flag wins)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up waiting for the answer after this long (the switchover may still complete)")
	asJSON := fs.Bool("json", false, "print the gateway's JSON answer as sent")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: memgraph-gateway switchover --to NAME [--gateway http://host:9090] [--token-file F] [--timeout 30s] [--json]")
		fmt.Fprintln(stderr, "Makes NAME the Memgraph MAIN with a planned switchover (no acknowledged write lost; writes pause briefly).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "memgraph-gateway switchover: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q; name the target with --to", fs.Arg(0))
	case strings.TrimSpace(*to) == "":
		return usageErr("--to is required: the name of the instance that must become MAIN")
	case tokenFile == "":
		return usageErr("no admin token: set --token-file or GATEWAY_ADMIN_TOKEN_FILE to the file holding it")
	case *timeout <= 0:
		return usageErr("--timeout=%v: must be longer than zero, such as 30s", *timeout)
	}
	base := gateway
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		var err error
		if base, err = api.BaseURLFor(gateway); err != nil {
			return usageErr("--gateway=%q: not a URL or host:port; set it like http://127.0.0.1:9090", gateway)
		}
	}
	token, err := config.ReadSecretFile("--token-file", tokenFile)
	if err != nil {
		return usageErr("%v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &api.Client{BaseURL: base, HTTP: &http.Client{}}
	res, code, err := client.Switchover(ctx, token, strings.TrimSpace(*to))
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "memgraph-gateway switchover: no answer from %s within %v; the switchover may still complete: check `memgraph-gateway status`\n", base, *timeout)
		} else {
			fmt.Fprintf(stderr, "memgraph-gateway switchover: %s: %v\n", base, err)
		}
		return exitFailure
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		writeSwitchover(stdout, res, code)
	}
	if code != http.StatusOK || !res.OK {
		if *asJSON {
			fmt.Fprintf(stderr, "memgraph-gateway switchover: HTTP %d: %s\n", code, res.Error)
		}
		return exitFailure
	}
	return exitOK
}

// writeSwitchover prints an answer of POST /v1/switchover for people.
func writeSwitchover(out io.Writer, res api.SwitchoverResponse, code int) {
	if code != http.StatusOK || !res.OK {
		fmt.Fprintf(out, "switchover to %s FAILED (HTTP %d %s): %s\n", res.Target, code, http.StatusText(code), res.Error)
		if res.Leader != "" {
			fmt.Fprintf(out, "leader: %s\n", res.Leader)
		}
		if res.Main != "" {
			fmt.Fprintf(out, "the MAIN is %s (epoch %d)\n", res.Main, res.Epoch)
		}
		if res.Failover != nil {
			writeFailover(out, res.Failover, "")
		}
		return
	}
	was := ""
	if res.Previous != "" && res.Previous != res.Main {
		was = ", was " + res.Previous
	}
	fmt.Fprintf(out, "switchover to %s done: %s is the MAIN at epoch %d%s\n", res.Target, res.Main, res.Epoch, was)
	fmt.Fprintf(out, "answered after %s by %s", res.Took, res.Leader)
	if res.Failover != nil {
		fmt.Fprintf(out, "; writes held %s (claim to publish)", fmtMillis(res.Failover.DurationMs))
	}
	fmt.Fprintln(out)
	if res.Reason != "" {
		fmt.Fprintf(out, "controller: %s\n", res.Reason)
	}
	if f := res.Failover; f != nil && len(f.Steps) > 0 {
		fmt.Fprintln(out)
		writeSteps(out, f.Steps, "")
	}
}

// writeFailover prints a failover record: a summary line, then its steps.
func writeFailover(out io.Writer, f *api.FailoverRecord, indent string) {
	result := f.Result
	if result == "" {
		result = "in progress"
	}
	fmt.Fprintf(out, "%s%s %s: %s -> %s", indent, f.Kind, result, orNone(f.From), orNone(f.Target))
	if f.Main != "" && f.Main != f.Target {
		fmt.Fprintf(out, " (published %s)", f.Main)
	}
	fmt.Fprintf(out, ", claim epoch %d", f.ClaimEpoch)
	if f.Epoch != 0 {
		fmt.Fprintf(out, ", published epoch %d", f.Epoch)
	}
	fmt.Fprintf(out, ", started %s", f.Start.Format(time.RFC3339))
	if !f.End.IsZero() {
		fmt.Fprintf(out, ", writes held %s", fmtMillis(f.DurationMs))
	}
	fmt.Fprintln(out)
	if f.Cause != "" {
		fmt.Fprintf(out, "%scause: %s\n", indent, f.Cause)
	}
	if f.Error != "" {
		fmt.Fprintf(out, "%serror: %s\n", indent, f.Error)
	}
	if len(f.Steps) > 0 {
		writeSteps(out, f.Steps, indent)
	}
}

func writeSteps(out io.Writer, steps []api.FailoverStep, indent string) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%sSTEP\tINSTANCE\tEPOCH\tAT\tTOOK\tERROR\n", indent)
	for _, s := range steps {
		fmt.Fprintf(w, "%s%s\t%s\t%d\t+%s\t%s\t%s\n", indent, s.Name, orDash(s.Instance), s.Epoch, fmtMillis(s.OffsetMs), fmtMillis(s.TookMs), s.Error)
	}
	w.Flush()
}

// fmtMillis prints milliseconds as a rounded Go duration: 412ms, 1.2s.
func fmtMillis(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
