//go:build !linux

package loadgen

// startWatch watches the held connections with a goroutine each.
func (d *Idle) startWatch() { d.watchGoroutines() }
