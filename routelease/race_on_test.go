//go:build race

package routelease

const raceEnabled = true
