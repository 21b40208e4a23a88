package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// runBroadcast connects conns sinks and one source; the source keeps
// inflight messages in flight (sent minus delivered to every sink) and each
// delivery to a sink counts.
func runBroadcast(c config) (result, error) {
	sinks, err := dialMany(endpoint(c.url, "/broadcast-sink"), c.size, c.conns)
	if err != nil {
		return result{}, err
	}
	defer closeAll(sinks)
	source, err := dial(endpoint(c.url, "/broadcast-source"), c.size)
	if err != nil {
		return result{}, err
	}
	defer closeAll([]*client{source})
	var deliveries, bytes, reached int64
	wake := make(chan struct{}, 1)
	for _, cl := range sinks {
		go func(cl *client) {
			seen := false
			for {
				_, r, err := cl.ws.NextReader()
				if err != nil {
					return
				}
				var discard [64]byte
				for {
					n, err := r.Read(discard[:])
					atomic.AddInt64(&bytes, int64(n))
					if err != nil {
						break
					}
				}
				atomic.AddInt64(&deliveries, 1)
				if !seen {
					seen = true
					atomic.AddInt64(&reached, 1)
				}
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}(cl)
	}
	msg := payload(c.size)
	mt := messageType(c)
	// Every sink must be registered before counting starts: probe until one
	// message reaches them all.
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&reached) < int64(c.conns) {
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("only %d of %d sinks registered", atomic.LoadInt64(&reached), c.conns)
		}
		if err := source.ws.WriteMessage(mt, msg); err != nil {
			return result{}, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	m := int64(c.conns)
	sent := (atomic.LoadInt64(&deliveries) + m - 1) / m
	var stop int32
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			if sent-atomic.LoadInt64(&deliveries)/m >= int64(c.inflight) {
				<-wake
				continue
			}
			source.conn.Hold()
			for sent-atomic.LoadInt64(&deliveries)/m < int64(c.inflight) {
				if err := source.ws.WriteMessage(mt, msg); err != nil {
					return
				}
				sent++
			}
			if err := source.conn.Flush(); err != nil {
				return
			}
		}
	}()
	rates, cpu := window(c, &deliveries)
	atomic.StoreInt32(&stop, 1)
	return result{Metrics: map[string]float64{"deliveries/s": rates[0]}, CPU: cpu}, nil
}
