// Per-thread CPU of the server in the fanout mode: its workers are threads
// of one process, /proc/<pid>/task/<tid>/stat splits the process's time.

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// threadTick is one thread's name and CPU time.
type threadTick struct {
	name  string
	ticks int64
}

// threadTicks reads the CPU time of each thread of a process.
func threadTicks(pid int) map[string]threadTick {
	ticks := map[string]threadTick{}
	if pid <= 0 {
		return ticks
	}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ticks
	}
	for _, e := range entries {
		name, _ := os.ReadFile(fmt.Sprintf("%s/%s/comm", dir, e.Name()))
		stat, err := os.ReadFile(fmt.Sprintf("%s/%s/stat", dir, e.Name()))
		if err != nil {
			continue
		}
		ticks[e.Name()] = threadTick{strings.TrimSpace(string(name)), statTicks(string(stat))}
	}
	return ticks
}

// threadShares returns each thread's CPU over a window as a share of one
// core, keyed "tid name".
func threadShares(before, after map[string]threadTick, seconds float64) map[string]float64 {
	shares := map[string]float64{}
	for tid, a := range after {
		used := a.ticks - before[tid].ticks
		if used > 0 {
			shares[tid+" "+a.name] = float64(used) / ticksPerSecond / seconds
		}
	}
	return shares
}

// statTicks reads user + system time from a stat line of proc(5).
func statTicks(text string) int64 {
	fields := strings.Fields(text[strings.LastIndexByte(text, ')')+2:])
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	system, _ := strconv.ParseInt(fields[12], 10, 64)
	return user + system
}

// startPerf counts -perf's events in the server with `perf stat` for the
// window's duration; the function it returns waits for the counts (nil
// without -perf, or when perf fails).
func startPerf(c config) func() map[string]float64 {
	if c.perf == "" || c.pid <= 0 {
		return func() map[string]float64 { return nil }
	}
	var out bytes.Buffer
	cmd := exec.Command("perf", "stat", "-x,", "-e", c.perf, "-p", strconv.Itoa(c.pid),
		"--", "sleep", strconv.FormatFloat(c.duration.Seconds(), 'f', 3, 64))
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return func() map[string]float64 { return nil }
	}
	return func() map[string]float64 {
		if err := cmd.Wait(); err != nil {
			return nil
		}
		counts := map[string]float64{}
		for _, line := range strings.Split(out.String(), "\n") {
			// value,unit,event,...
			fields := strings.Split(line, ",")
			if len(fields) < 3 {
				continue
			}
			if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
				counts[fields[2]] = v
			}
		}
		return counts
	}
}
