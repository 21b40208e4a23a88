package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ on Linux (`getconf CLK_TCK`).
const ticksPerSecond = 100

// cpuTicks returns the user + system CPU time of a process, in ticks.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	text := string(data)
	fields := strings.Fields(text[strings.LastIndexByte(text, ')')+2:])
	// Fields 14 and 15 of proc(5), counted from the state (field 3).
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	system, _ := strconv.ParseInt(fields[12], 10, 64)
	return user + system
}

// machineBusyTicks returns the busy CPU time of the whole machine.
func machineBusyTicks() int64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line := strings.SplitN(string(data), "\n", 2)[0]
	fields := strings.Fields(line)[1:]
	var busy int64
	for i, f := range fields {
		// user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 || i > 7 {
			continue
		}
		v, _ := strconv.ParseInt(f, 10, 64)
		busy += v
	}
	return busy
}

// rssBytes returns the resident set size of a process.
func rssBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuShare is the CPU used over a window, each as a share of one core.
type cpuShare struct {
	Driver float64 `json:"driver"`
	Server float64 `json:"server"`
	Other  float64 `json:"other"`
}

// cpuMeter samples this process, the peer and the machine.
type cpuMeter struct {
	peer                  int
	start                 time.Time
	self, server, machine int64
}

func startMeter(peer int) *cpuMeter {
	m := &cpuMeter{peer: peer, start: time.Now()}
	m.self = cpuTicks(os.Getpid())
	if peer > 0 {
		m.server = cpuTicks(peer)
	}
	m.machine = machineBusyTicks()
	return m
}

func (m *cpuMeter) stop() cpuShare {
	seconds := time.Since(m.start).Seconds()
	self := cpuTicks(os.Getpid()) - m.self
	var server int64
	if m.peer > 0 {
		server = cpuTicks(m.peer) - m.server
	}
	machine := machineBusyTicks() - m.machine
	share := func(ticks int64) float64 {
		return float64(ticks) / ticksPerSecond / seconds
	}
	other := share(machine - self - server)
	if other < 0 {
		other = 0
	}
	return cpuShare{Driver: share(self), Server: share(server), Other: other}
}
