// Command loadgen is a native WebSocket load generator and echo peer, built
// on gorilla/websocket, for measuring the library against Deno's built-in
// WebSocket with load that does not come from the code under test. Each
// run prints one JSON line: {"mode", "metrics", "cpu", "note"}.
//
//	loadgen -mode echo -url ws://127.0.0.1:8080/ -conns 16 -inflight 16 \
//	        -size 16 -duration 2s -pid 1234
//	loadgen -mode server          # prints {"port": n}; exits when stdin ends
//
// Modes:
//
//	echo       conns × inflight messages in flight; msg/s and MB/s
//	latency    one connection, one message in flight; p50 and p99 in µs
//	handshake  concurrency loops of open + close; handshakes/s
//	idle       opens conns connections, one message each (none with
//	           -greet=false), holds them; the peer's RSS growth per
//	           connection (needs -pid)
//	broadcast  conns sinks on /broadcast-sink, one source on
//	           /broadcast-source keeping inflight messages in flight;
//	           deliveries/s
//	fanout     conns raw subscribers on /sub, publishers on /pub (spread
//	           evenly over -workers), each keeping inflight numbered
//	           messages in flight; deliveries/s, with every subscriber
//	           checked for lost and reordered messages (see fanout.go)
//	server     an echo server on 127.0.0.1 (port 0 unless -port)
//
// -pid names the peer's process: its CPU time is reported beside the
// generator's, and idle reads its memory.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// config is what one run is asked to do.
type config struct {
	mode        string
	url         string
	pid         int
	conns       int
	inflight    int
	size        int
	binary      bool
	warmup      time.Duration
	duration    time.Duration
	concurrency int
	hold        time.Duration
	greet       bool
	port        int
	publishers  int
	workers     int
	perf        string
}

// result is the one JSON line a run prints.
type result struct {
	Mode    string             `json:"mode"`
	Metrics map[string]float64 `json:"metrics"`
	CPU     cpuShare           `json:"cpu"`
	Note    string             `json:"note,omitempty"`
	// Detail holds a mode's further figures (fanout: spread, losses,
	// per-thread CPU of the server).
	Detail map[string]interface{} `json:"detail,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "echo", "echo, latency, handshake, idle, broadcast, fanout or server")
	flag.StringVar(&c.url, "url", "ws://127.0.0.1:8080/", "the server's base URL")
	flag.IntVar(&c.pid, "pid", 0, "the peer's process id, for its CPU time and memory")
	flag.IntVar(&c.conns, "conns", 1, "connections (sinks for broadcast, subscribers for fanout)")
	flag.IntVar(&c.inflight, "inflight", 1, "messages in flight per connection (per publisher, for fanout)")
	flag.IntVar(&c.size, "size", 16, "message size in bytes")
	flag.BoolVar(&c.binary, "binary", false, "binary messages instead of text")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "load before measuring")
	flag.DurationVar(&c.duration, "duration", 2*time.Second, "the measured window")
	flag.IntVar(&c.concurrency, "concurrency", 16, "handshakes at a time")
	flag.DurationVar(&c.hold, "hold", time.Second, "idle: how long to hold the connections before reading memory")
	flag.BoolVar(&c.greet, "greet", true, "idle: exchange one message on each connection before holding it")
	flag.IntVar(&c.port, "port", 0, "server: the port to listen on")
	flag.IntVar(&c.publishers, "publishers", 4, "fanout: publishing connections")
	flag.IntVar(&c.workers, "workers", 1, "fanout: the server's workers, over which publishers are spread evenly")
	flag.StringVar(&c.perf, "perf", "", "fanout: perf events to count in the peer over the window (perf stat -e)")
	flag.Parse()

	if c.mode == "server" {
		if err := serveEcho(c.port); err != nil {
			fail(err)
		}
		return
	}
	run := map[string]func(config) (result, error){
		"echo":      runEcho,
		"latency":   runLatency,
		"handshake": runHandshakes,
		"idle":      runIdle,
		"broadcast": runBroadcast,
		"fanout":    runFanout,
	}[c.mode]
	if run == nil {
		fail(fmt.Errorf("unknown mode %q", c.mode))
	}
	r, err := run(c)
	if err != nil {
		fail(err)
	}
	r.Mode = c.mode
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
	// Connections still open are dropped with the process.
	os.Exit(0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

// payload returns size bytes of ASCII, valid as text and as binary.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func messageType(c config) int {
	if c.binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// endpoint returns the base URL with its path replaced.
func endpoint(base, path string) string {
	rest := strings.TrimPrefix(base, "ws://")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return "ws://" + rest + path
}
