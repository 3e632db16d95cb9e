package loadgen

import (
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// BulkOptions configures a bulk run: each connection writes Chunk-byte
// writes for Duration while a reader drains the echo.
type BulkOptions struct {
	Addr        string
	Conns       int
	Chunk       int           // bytes per write; default 64 KiB
	Duration    time.Duration // time spent writing
	DialTimeout time.Duration // default 5 s
}

// BulkResult is the outcome of a bulk run. MBPerSec counts payload that
// made the round trip (client -> target -> backend -> target -> client),
// in 10^6 bytes per second.
type BulkResult struct {
	Addr        string  `json:"addr"`
	Conns       int     `json:"conns"`
	Chunk       int     `json:"chunk"`
	BytesSent   int64   `json:"bytes_sent"`
	BytesEchoed int64   `json:"bytes_echoed"`
	Seconds     float64 `json:"seconds"`
	MBPerSec    float64 `json:"mb_per_sec"`
	Errors      int     `json:"errors"`
	FirstErr    string  `json:"first_error,omitempty"`
}

// Bulk runs the bulk workload.
func Bulk(o BulkOptions) (BulkResult, error) {
	if o.Conns <= 0 || o.Duration <= 0 {
		return BulkResult{}, fmt.Errorf("loadgen: bulk needs conns > 0 and a duration")
	}
	if o.Chunk <= 0 {
		o.Chunk = 64 << 10
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	conns, err := dialAll(o.Addr, o.Conns, o.DialTimeout)
	if err != nil {
		return BulkResult{}, fmt.Errorf("loadgen: connect %s: %w", o.Addr, err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var sent, echoed, lastByte atomic.Int64
	var errs errCollector
	start := time.Now()
	stopWriting := start.Add(o.Duration)
	hard := stopWriting.Add(10 * time.Second)
	var wg sync.WaitGroup
	for _, c := range conns {
		c.SetDeadline(hard)
		var mySent, myGot atomic.Int64
		writerDone := make(chan struct{})
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			defer func() {
				close(writerDone)
				// The reader may already hold every byte and be blocked in
				// Read: wake it up.
				if myGot.Load() >= mySent.Load() {
					c.SetReadDeadline(time.Now())
				}
			}()
			buf := make([]byte, o.Chunk)
			rand.Read(buf)
			for time.Now().Before(stopWriting) {
				n, err := c.Write(buf)
				mySent.Add(int64(n))
				sent.Add(int64(n))
				if err != nil {
					errs.add(err)
					return
				}
			}
		}()
		go func() { // reader: until everything written came back
			defer wg.Done()
			buf := make([]byte, 256<<10)
			finished := func() bool {
				select {
				case <-writerDone:
					return myGot.Load() >= mySent.Load()
				default:
					return false
				}
			}
			for !finished() {
				n, err := c.Read(buf)
				if n > 0 {
					myGot.Add(int64(n))
					echoed.Add(int64(n))
					storeMax(&lastByte, int64(time.Since(start)))
				}
				if err != nil {
					if !finished() {
						errs.add(err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	r := BulkResult{
		Addr: o.Addr, Conns: o.Conns, Chunk: o.Chunk,
		BytesSent: sent.Load(), BytesEchoed: echoed.Load(),
		Seconds: float64(lastByte.Load()) / 1e9, Errors: errs.n,
	}
	if r.Seconds > 0 {
		r.MBPerSec = float64(r.BytesEchoed) / r.Seconds / 1e6
	}
	if errs.first != nil {
		r.FirstErr = errs.first.Error()
	}
	return r, nil
}
