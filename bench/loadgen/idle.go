package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// greet sends one message on each connection and waits for its echo, so
// that each has exchanged a message before it goes idle.
func greet(clients []*client, c config) error {
	msg := payload(c.size)
	mt := messageType(c)
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, cl := range clients {
		wg.Add(1)
		go func(cl *client) {
			defer wg.Done()
			if err := cl.ws.WriteMessage(mt, msg); err != nil {
				errs <- err
				return
			}
			_, r, err := cl.ws.NextReader()
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err != nil {
				errs <- err
			}
		}(cl)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runIdle opens conns connections, exchanges one message on each (unless
// told not to), holds them, and reports the peer's RSS growth per connection.
func runIdle(c config) (result, error) {
	if c.pid <= 0 {
		return result{}, errors.New("idle needs -pid")
	}
	// Warm the peer's accept and echo paths first, so that what is
	// measured is the connections and not the first use of the code.
	warm, err := dialMany(c.url, c.size, 100)
	if err != nil {
		return result{}, err
	}
	if err := greet(warm, c); err != nil {
		return result{}, err
	}
	closeAll(warm)
	time.Sleep(500 * time.Millisecond)
	meter := startMeter(c.pid)
	before := rssBytes(c.pid)
	start := time.Now()
	clients, err := dialMany(c.url, c.size, c.conns)
	if err != nil {
		return result{}, err
	}
	defer closeAll(clients)
	if c.greet {
		if err := greet(clients, c); err != nil {
			return result{}, err
		}
	}
	opened := time.Since(start).Seconds()
	time.Sleep(c.hold)
	after := rssBytes(c.pid)
	cpu := meter.stop()
	return result{
		Metrics: map[string]float64{
			"KiB/conn": float64(after-before) / float64(len(clients)) / 1024,
		},
		CPU: cpu,
		Note: fmt.Sprintf("%d connections opened (greeted: %v) in %.1f s; peer RSS %.1f → %.1f MiB",
			len(clients), c.greet, opened, float64(before)/(1<<20), float64(after)/(1<<20)),
	}, nil
}
