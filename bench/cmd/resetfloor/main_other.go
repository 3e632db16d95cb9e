//go:build !linux

// Command resetfloor is the benchmark's reference for the route-change cut;
// it needs Linux (see the Linux build).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "resetfloor: Linux only")
	os.Exit(2)
}
