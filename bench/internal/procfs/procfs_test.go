package procfs

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	rss, err := RSSKiB(pid)
	if err != nil || rss <= 0 {
		t.Fatalf("RSSKiB = %d, %v", rss, err)
	}
	before, err := CountFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	after, err := CountFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after.Pipes-before.Pipes != 2 || after.Sockets-before.Sockets != 1 {
		t.Errorf("before %+v after %+v: want +2 pipes, +1 socket", before, after)
	}
	n, err := FDCount(pid)
	if err != nil || n < after.Total-1 {
		t.Errorf("FDCount = %d, %v (CountFDs total %d)", n, err, after.Total)
	}
}

func TestCPUSeconds(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUSeconds(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the counter shows at least 50 ms more (bounded: on a busy
	// machine a spinning thread gets only part of a core), and check the
	// increase is plausible for the wall time spent.
	start := time.Now()
	x, now := 0, before
	for now-before < 0.05 && time.Since(start) < 20*time.Second {
		for range 1_000_000 {
			x++
		}
		if now, err = CPUSeconds(pid); err != nil {
			t.Fatal(err)
		}
	}
	wall := time.Since(start).Seconds()
	used := now - before
	if used < 0.05 || used > wall*float64(runtime.NumCPU())+0.05 {
		t.Errorf("CPU used %.3f s in %.3f s of wall time (x=%d)", used, wall, x)
	}
}
