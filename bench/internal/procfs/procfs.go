// Package procfs reads the few per-process figures the benchmark reports
// from Linux's /proc: resident memory (VmRSS) and open file descriptors,
// split into sockets and pipes (a splice-based relay holds pipes).
package procfs

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSSKiB returns VmRSS of process pid in KiB.
func RSSKiB(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

func statusField(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, name))
		if len(fields) == 0 {
			break
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("procfs: %s not found for pid %d", name, pid)
}

// FDCount returns the number of open file descriptors of pid (cheap: no
// readlink).
func FDCount(pid int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names), err
}

// FDs is a breakdown of a process's open file descriptors.
type FDs struct {
	Total   int `json:"total"`
	Sockets int `json:"sockets"`
	Pipes   int `json:"pipes"`
	Other   int `json:"other"`
}

// CountFDs reads every fd link of pid and classifies it. Fds that vanish
// while reading are skipped.
func CountFDs(pid int) (FDs, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	d, err := os.Open(dir)
	if err != nil {
		return FDs{}, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return FDs{}, err
	}
	var r FDs
	for _, n := range names {
		link, err := os.Readlink(dir + "/" + n)
		if err != nil {
			continue
		}
		r.Total++
		switch {
		case strings.HasPrefix(link, "socket:"):
			r.Sockets++
		case strings.HasPrefix(link, "pipe:"):
			r.Pipes++
		default:
			r.Other++
		}
	}
	return r, nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPUSeconds returns the user plus system CPU time that process pid (all
// its threads) has used, with the 10 ms resolution of /proc/PID/stat.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("procfs: bad stat for pid %d", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("procfs: short stat for pid %d", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procfs: bad utime/stime for pid %d", pid)
	}
	return float64(ut+st) / clockTicks, nil
}
